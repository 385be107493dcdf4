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
    /// Per-connection timeline (per-connection mode), started by `start`.
    let ownsTimeline: Bool
    /// When this connection's private timeline starts.
    let start: TimelineStart

    init(
        id: Int, profileName: String, engine: ConnectionEngine, queueCapacity: Int, ownsTimeline: Bool, clock: any SimulationClock,
        tagCapacity: Int? = nil, warning: OutboundQueue.Warning? = nil
    ) {
        self.start = TimelineStart(clock: clock)
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

}
