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

    private func play(to connection: SimulatorConnection?) async {
        guard !Task.isCancelled else { return }
        let origin = clock.elapsed
        var iterator = makeIterator(epoch: clock.wallTime)
        let speed = self.speed
        var count = 0
        logger.info("timeline started", metadata: ["speed": "\(speed)", "connection": "\(connection.map { "\($0.id)" } ?? "all")"])
        while !Task.isCancelled {
            let event: TimelineEvent?
            do {
                event = try iterator.next()
            } catch {
                logger.error("\(error)")
                continue
            }
            guard let event else { break }
            switch speed {
            case .factor(let f):
                let deadline = origin + .nanoseconds(Int64((event.time / f * 1e9).rounded()))
                do { try await clock.sleep(until: deadline) } catch { return }
                await hub.publish(event, only: connection, wait: false)
            case .max:
                await hub.publish(event, only: connection, wait: true)
                count += 1
                if count % 64 == 0 { await Task.yield() }
            }
        }
        if !Task.isCancelled { logger.info("timeline ended", metadata: ["connection": "\(connection.map { "\($0.id)" } ?? "all")"]) }
    }
}

/// Merges several timeline iterators by time (ties: scenario order).
struct WorldIterator: Sendable {
    var iterators: [Timeline.Iterator]

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
