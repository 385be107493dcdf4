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
    /// The scenarios the shared timeline plays (the control API loads and unloads them).
    let library: ScenarioLibrary

    var speed: SimulatorConfiguration.Speed {
        configuration.speed ?? .factor(world.scenarios.first?.speed ?? 1)
    }

    /// The merged timelines of every scenario.
    func makeIterator(epoch: Double) -> WorldIterator {
        WorldIterator(iterators: world.scenarios.map {
            Timeline(scenario: $0, epoch: epoch, loop: configuration.loop, environment: [:]).makeIterator()
        })
    }

    /// A library entry's timeline, placed at its offset.
    func source(_ entry: ScenarioLibrary.Entry, epoch: Double) -> WorldIterator.Source {
        WorldIterator.Source(
            id: entry.id, iterator: Timeline(scenario: entry.scenario, epoch: epoch, loop: configuration.loop, environment: [:]).makeIterator(),
            offset: entry.offset, aliases: entry.aliases, defaultProfile: entry.defaultProfile)
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

    /// The scenarios' faults, in time order (once, even when the timeline loops), with their scenario's name.
    var scheduledFaults: [(scenario: String, fault: ScheduledFault)] {
        world.scenarios.flatMap { s in s.faults.filter { $0.onMessage == nil }.map { (s.name, $0) } }.sorted { $0.fault.at < $1.fault.at }
    }

    /// The scenarios' faults set off by a client message (`on_message`).
    var triggeredFaults: [ScheduledFault] {
        world.scenarios.flatMap { $0.faults.filter { $0.onMessage != nil } }
    }

    /// Carries out each fault when its scenario time comes on `play` (paused and sped up with it);
    /// on a connection's own timeline, to that connection only. A fault a seek jumped over is skipped,
    /// as is one of a scenario unloaded meanwhile.
    /// Each fault done (or skipped) lets through the events `barrier` holds back before the next one.
    private func playFaults(
        _ list: [(scenario: String, fault: ScheduledFault)], play: Int, only connection: SimulatorConnection?, barrier: FaultBarrier
    ) async {
        // However this ends (cancelled, too), no event may wait for a fault any more.
        defer { barrier.advance(to: .infinity) }
        for (index, (scenario, f)) in list.enumerated() {
            defer { barrier.advance(to: index + 1 < list.count ? list[index + 1].fault.at : .infinity) }
            do { try await control.waitUntilDue(f.at, play: play) } catch { return }
            // Before the last seek's target: jumped over (a seek back does not bring a fault back).
            let seek = control.seeks(of: play)
            if seek.count > 0 && f.at < seek.target { continue }
            guard library.contains(scenario) else { continue }
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
        // A fault and an event at the same scenario time: the fault first (see ``FaultBarrier``).
        let barrier = FaultBarrier(firstFaultAt: faultList.first?.fault.at)
        await withTaskGroup(of: Void.self) { group in
            if !faultList.isEmpty { group.addTask { await playFaults(faultList, play: play, only: connection, barrier: barrier) } }
            if connection == nil {
                await playShared(play: play, barrier: barrier)
            } else {
                await playEvents(to: connection, play: play, barrier: barrier)
            }
            await group.waitForAll()
        }
    }

    /// Plays the shared timeline: the library's scenarios, merged. A seek or a change of the
    /// library revises the play; then the events are taken from the new scenario time (a seek
    /// forward skips what lies between, a seek back starts the scenarios over and skips to there).
    /// Once no scenario has an event left, it waits for a revision rather than ending.
    private func playShared(play: Int, barrier: FaultBarrier) async {
        let startEpoch = clock.wallTime
        var epochs: [Int: Double] = [:]
        func build(_ entry: ScenarioLibrary.Entry) -> WorldIterator.Source {
            let epoch = epochs[entry.id] ?? (entry.loadedAtStart ? startEpoch : clock.wallTime)
            epochs[entry.id] = epoch
            return source(entry, epoch: epoch)
        }
        var iterator = WorldIterator(sources: library.entries.map(build))
        /// The scenario time the iterator stands at: the last event taken, or the last seek.
        var position = 0.0
        var revision = control.revision(of: play)
        if let target = control.takeSeek(of: play) {
            iterator.skip(before: target)
            position = target
        }
        logger.info("timeline started", metadata: ["speed": "\(control.speed)", "connection": "all"])
        var endLogged = false
        func next() -> TimelineEvent? {
            while true {
                do {
                    guard let e = try iterator.next() else { return nil }
                    position = e.time
                    return e
                } catch {
                    logger.error("\(error)")
                }
            }
        }
        while !Task.isCancelled {
            await control.waitWhilePaused()
            let current = control.revision(of: play)
            if current != revision {
                revision = current
                let entries = library.entries
                if let target = control.takeSeek(of: play) {
                    if target < position {
                        iterator = WorldIterator(sources: entries.map(build))
                    } else {
                        iterator.keep(entries.map(\.id))
                    }
                    iterator.add(entries.filter { !iterator.ids.contains($0.id) }.map(build), skippingBefore: target)
                    iterator.skip(before: target)
                    position = target
                    logger.info("timeline seek", metadata: ["to": "\(target)"])
                } else {
                    // A scenario loaded now starts at its offset: the scenario time it was loaded at.
                    iterator.keep(entries.map(\.id))
                    iterator.add(entries.filter { !iterator.ids.contains($0.id) }.map(build), skippingBefore: -.infinity)
                }
                endLogged = false
                continue
            }
            guard let nextTime = iterator.nextTime else {
                if !endLogged { logger.info("timeline ended (until a seek or a scenario is loaded)", metadata: ["connection": "all"]) }
                endLogged = true
                await control.waitForRevision(of: play, after: revision)
                continue
            }
            switch control.speed {
            case .factor:
                do {
                    guard try await control.waitUntilDue(nextTime, play: play, revision: revision) else { continue }
                } catch { return }
                if barrier.nextFault <= nextTime {
                    // A fault first. It may take a moment (it finds its connections), in which a
                    // seek or a pause may come: the loop starts over to see them.
                    await barrier.wait(through: nextTime)
                    continue
                }
                guard let first = next() else { continue }
                await handOverDue(first, then: next, nextTime: { iterator.nextTime.flatMap { $0 < barrier.nextFault ? $0 : nil } }, to: nil, play: play)
            case .max:
                await handOverMax(next, to: nil, play: play)
            }
        }
    }

    /// Hands `first`, now due, to the hub with every event already due after it (taken with
    /// `next` while `nextTime` is due), in one hand-over; or, when the speed was switched to max
    /// while it waited, alone and the max way.
    private func handOverDue(
        _ first: TimelineEvent, then next: () -> TimelineEvent?, nextTime: () -> Double?, to connection: SimulatorConnection?, play: Int
    ) async {
        if case .max = control.speed {
            await hub.publish([first], only: connection, wait: true)
            control.handedOver(play: play, count: 1, lastTime: first.time, lag: 0)
            return
        }
        var batch = [first]
        let now = clock.elapsed
        while batch.count < Self.dueBatch, let t = nextTime(), let d = control.deadline(for: t, play: play), d <= now, let e = next() {
            batch.append(e)
        }
        let lag = control.deadline(for: first.time, play: play).map { seconds(now - $0) } ?? 0
        control.handedOver(play: play, count: batch.count, lastTime: batch[batch.count - 1].time, lag: Swift.max(0, lag))
        await hub.publish(batch, only: connection, wait: false)
    }

    /// At `--speed max`: hands the next batch to the hub once every target has room for it.
    private func handOverMax(_ next: () -> TimelineEvent?, to connection: SimulatorConnection?, play: Int) async {
        var batch: [TimelineEvent] = []
        while batch.count < Self.maxBatch, let e = next() { batch.append(e) }
        if !batch.isEmpty {
            await hub.publish(batch, only: connection, wait: true)
            control.handedOver(play: play, count: batch.count, lastTime: batch[batch.count - 1].time, lag: 0)
        }
        await Task.yield()
    }

    private func playEvents(to connection: SimulatorConnection?, play: Int, barrier: FaultBarrier) async {
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
                if barrier.nextFault <= first.time {
                    // A fault first; then, as a pause may have come meanwhile, the event waits again.
                    await barrier.wait(through: first.time)
                    await control.waitWhilePaused()
                    do { try await control.waitUntilDue(first.time, play: play) } catch { return }
                }
                await handOverDue(
                    first, then: next, nextTime: { iterator.nextTime.flatMap { $0 < barrier.nextFault ? $0 : nil } }, to: connection,
                    play: play)
            case .max:
                await handOverMax(next, to: connection, play: play)
            }
        }
        if !Task.isCancelled { logger.info("timeline ended", metadata: ["connection": "\(connection.map { "\($0.id)" } ?? "all")"]) }
    }
}

/// Merges several timeline iterators by time (ties: scenario order).
struct WorldIterator: Sendable {
    /// One scenario's timeline, placed on the merged one.
    struct Source: Sendable {
        var id: Int
        var iterator: Timeline.Iterator
        /// Added to its events' times.
        var offset: Double
        /// Profile references -> served profile names; `nil` to leave the events' profiles as they are.
        var aliases: [String: String]?
        var defaultProfile: String?

        var nextTime: Double? { iterator.nextTime.map { $0 + offset } }

        mutating func next() throws(ScenarioError) -> TimelineEvent? {
            guard var e = try iterator.next() else { return nil }
            e.time += offset
            if let aliases { e.profile = e.profile.map { aliases[$0] ?? $0 } ?? defaultProfile }
            return e
        }

        /// Drops the events before scenario `time` (evaluating them, so that what follows is the same).
        mutating func skip(before time: Double) {
            while let t = nextTime, t < time {
                do { _ = try next() } catch { continue }
            }
        }
    }

    var sources: [Source]

    init(iterators: [Timeline.Iterator]) {
        sources = iterators.enumerated().map { Source(id: $0.offset, iterator: $0.element, offset: 0) }
    }

    init(sources: [Source]) { self.sources = sources }

    var ids: Set<Int> { Set(sources.map(\.id)) }

    /// The time of the next event, if any.
    var nextTime: Double? { sources.compactMap(\.nextTime).min() }

    mutating func next() throws(ScenarioError) -> TimelineEvent? {
        var best: Int?
        var bestTime = Double.infinity
        for i in sources.indices {
            if let t = sources[i].nextTime, t < bestTime {
                best = i
                bestTime = t
            }
        }
        guard let i = best else { return nil }
        return try sources[i].next()
    }

    /// Drops every event before scenario `time`.
    mutating func skip(before time: Double) {
        for i in sources.indices { sources[i].skip(before: time) }
    }

    /// Keeps the sources of these ids only.
    mutating func keep(_ ids: [Int]) {
        let set = Set(ids)
        sources.removeAll { !set.contains($0.id) }
    }

    /// Adds sources, without their events before scenario `time`.
    mutating func add(_ more: [Source], skippingBefore time: Double) {
        for var s in more {
            s.skip(before: time)
            sources.append(s)
        }
    }
}
