import Logging
import TapedeckCore
import OrderedCollections
import TapedeckScenario

/// Plays the world's timelines in time: scenario time runs at the configured speed, and each
/// event is handed to the hub when its time comes.
struct Scheduler: Sendable {
    let hub: Hub
    let world: SimulatorWorld
    let configuration: SimulatorConfiguration
    let clock: any SimulationClock
    let logger: Logger

    var speed: SimulatorConfiguration.Speed {
        configuration.speed ?? .factor(world.scenarios.first?.speed ?? 1)
    }

    /// The merged timelines of every scenario.
    func makeIterator(epoch: Double) -> WorldIterator {
        WorldIterator(iterators: world.scenarios.map {
            Timeline(scenario: $0, epoch: epoch, loop: configuration.loop, environment: [:]).makeIterator()
        })
    }

    /// When timelines start: the command line's `--start`, else the first scenario's `start:`,
    /// else at the first client message.
    var startPolicy: StartPolicy {
        configuration.start ?? world.scenarios.lazy.compactMap(\.startPolicy).first ?? .firstMessage
    }

    /// Plays the shared timeline to every connection. Returns when it ends or is cancelled.
    func runShared() async {
        await hub.start.wait(startPolicy, grace: configuration.startGrace)
        await play(to: nil)
    }

    /// Plays a private timeline to one connection.
    func run(for connection: SimulatorConnection) async {
        await play(to: connection)
    }

    /// Events handed to the hub at once at `--speed max`; each batch waits for room first.
    static let maxBatch = 64
    /// Events due at the same moment handed over at once at a fixed speed (when the scheduler is
    /// behind, or several events share a time).
    static let dueBatch = 256

    private func play(to connection: SimulatorConnection?) async {
        guard !Task.isCancelled else { return }
        let origin = clock.elapsed
        var iterator = makeIterator(epoch: clock.wallTime)
        let speed = self.speed
        logger.info("timeline started", metadata: ["speed": "\(speed)", "connection": "\(connection.map { "\($0.id)" } ?? "all")"])
        var ended = false
        func next() -> TimelineEvent? {
            while true {
                do {
                    guard let e = try iterator.next() else {
                        ended = true
                        return nil
                    }
                    return e
                } catch {
                    logger.error("\(error)")
                }
            }
        }
        while !Task.isCancelled && !ended {
            switch speed {
            case .factor(let f):
                func deadline(_ time: Double) -> Duration { origin + .nanoseconds(Int64((time / f * 1e9).rounded())) }
                guard let first = next() else { break }
                do { try await clock.sleep(until: deadline(first.time)) } catch { return }
                // Every event already due goes with the first, in one hand-over.
                var batch = [first]
                let now = clock.elapsed
                while batch.count < Self.dueBatch, let t = iterator.nextTime, deadline(t) <= now, let e = next() { batch.append(e) }
                await hub.publish(batch, only: connection, wait: false)
            case .max:
                var batch: [TimelineEvent] = []
                while batch.count < Self.maxBatch, let e = next() { batch.append(e) }
                if !batch.isEmpty { await hub.publish(batch, only: connection, wait: true) }
                await Task.yield()
            }
        }
        if !Task.isCancelled { logger.info("timeline ended", metadata: ["connection": "\(connection.map { "\($0.id)" } ?? "all")"]) }
    }
}

/// Merges several timeline iterators by time (ties: scenario order).
struct WorldIterator: Sendable {
    var iterators: [Timeline.Iterator]

    /// The time of the next event, if any.
    var nextTime: Double? { iterators.compactMap(\.nextTime).min() }

    mutating func next() throws(ScenarioError) -> TimelineEvent? {
        var best: Int?
        var bestTime = Double.infinity
        for i in iterators.indices {
            if let t = iterators[i].nextTime, t < bestTime {
                best = i
                bestTime = t
            }
        }
        guard let i = best else { return nil }
        return try iterators[i].next()
    }
}
