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
    /// Pause, resume and speed, shared by every timeline of the server.
    let control: TimelineControl
    /// Carries out the scenarios' `faults:`.
    let faults: FaultInjector

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

    /// Plays the shared timeline to every connection, and the scenarios' `faults:` at their times.
    /// Returns when both end or on cancellation.
    func runShared() async {
        await hub.start.wait(startPolicy, grace: configuration.startGrace)
        await play(to: nil)
    }

    /// The scenarios' faults, in time order (once, even when the timeline loops).
    var scheduledFaults: [ScheduledFault] {
        world.scenarios.flatMap(\.faults).sorted { $0.at < $1.at }
    }

    /// Carries out each fault when its scenario time comes on `play` (paused and sped up with it);
    /// on a connection's own timeline, to that connection only.
    private func playFaults(_ list: [ScheduledFault], play: Int, only connection: SimulatorConnection?) async {
        for f in list {
            do { try await control.waitUntilDue(f.at, play: play) } catch { return }
            do {
                let done = try await faults.apply(f.spec, only: connection)
                logger.info("scheduled fault", metadata: ["at": "\(f.at)", "fault": "\(done.jsonString)", "from": "\(f.location)"])
            } catch let failure as ControlAPI.Failure {
                logger.error("\(f.location): fault not applied: \(failure.message)")
            } catch {
                logger.error("\(f.location): fault not applied: \(error)")
            }
        }
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
        // Scenario time maps to the clock through the timeline control: pause, resume and speed
        // changes from the control API re-anchor it (see ``TimelineControl``).
        let play = control.register(shared: connection == nil)
        defer { control.unregister(play) }
        // On a connection's own timeline, its faults apply to that connection (at its scenario time).
        let faultList = scheduledFaults
        await withTaskGroup(of: Void.self) { group in
            if !faultList.isEmpty { group.addTask { await playFaults(faultList, play: play, only: connection) } }
            await playEvents(to: connection, play: play)
            await group.waitForAll()
        }
    }

    private func playEvents(to connection: SimulatorConnection?, play: Int) async {
        var iterator = makeIterator(epoch: clock.wallTime)
        logger.info("timeline started", metadata: ["speed": "\(control.speed)", "connection": "\(connection.map { "\($0.id)" } ?? "all")"])
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
            await control.waitWhilePaused()
            switch control.speed {
            case .factor:
                guard let first = next() else { break }
                do { try await control.waitUntilDue(first.time, play: play) } catch { return }
                if case .max = control.speed {
                    // Switched to max while waiting: the event goes now, the max way.
                    await hub.publish([first], only: connection, wait: true)
                    control.handedOver(play: play, count: 1, lastTime: first.time, lag: 0)
                    continue
                }
                // Every event already due goes with the first, in one hand-over.
                var batch = [first]
                let now = clock.elapsed
                while batch.count < Self.dueBatch, let t = iterator.nextTime, let d = control.deadline(for: t, play: play), d <= now, let e = next() {
                    batch.append(e)
                }
                let lag = control.deadline(for: first.time, play: play).map { seconds(now - $0) } ?? 0
                control.handedOver(play: play, count: batch.count, lastTime: batch[batch.count - 1].time, lag: Swift.max(0, lag))
                await hub.publish(batch, only: connection, wait: false)
            case .max:
                var batch: [TimelineEvent] = []
                while batch.count < Self.maxBatch, let e = next() { batch.append(e) }
                if !batch.isEmpty {
                    await hub.publish(batch, only: connection, wait: true)
                    control.handedOver(play: play, count: batch.count, lastTime: batch[batch.count - 1].time, lag: 0)
                }
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
