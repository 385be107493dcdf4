import Synchronization
import TapedeckCore
import OrderedCollections
import TapedeckProtocol

/// One client connection: its protocol engine and its outbound queue.
final class SimulatorConnection: Sendable {
    let id: Int
    let profileName: String
    let queue: OutboundQueue
    private let engine: Mutex<ConnectionEngine>
    /// Per-connection timeline, started at the first subscription (per-connection mode).
    let ownsTimeline: Bool
    private let started = Mutex(false)

    init(
        id: Int, profileName: String, engine: ConnectionEngine, queueCapacity: Int, ownsTimeline: Bool,
        tagCapacity: Int? = nil, warning: OutboundQueue.Warning? = nil
    ) {
        self.id = id
        self.profileName = profileName
        self.engine = Mutex(engine)
        self.queue = OutboundQueue(capacity: queueCapacity, tagCapacity: tagCapacity, warning: warning)
        self.ownsTimeline = ownsTimeline
    }

    /// Runs `body` on the engine under its lock (never across an await).
    func withEngine<R>(_ body: (inout ConnectionEngine) -> R) -> R {
        engine.withLock { body(&$0) }
    }

    /// Whether the client has asked for events (see `ConnectionEngine.wantsEvents`).
    var wantsEvents: Bool { engine.withLock { $0.wantsEvents } }

    /// True the first time it is called after the connection wants events.
    func markStartedIfSubscribed() -> Bool {
        guard wantsEvents else { return false }
        return started.withLock { s in
            if s { return false }
            s = true
            return true
        }
    }
}
