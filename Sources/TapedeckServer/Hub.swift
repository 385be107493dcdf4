import Synchronization
import Logging
import TapedeckCore
import OrderedCollections
import TapedeckScenario
import TapedeckProtocol
import NIOCore

/// Routes events to connections: topic, authorization and subscription filters, then each
/// connection's socket or bounded queue.
///
/// An event is enveloped and encoded once per profile into one ``OutboundFrame``; every connection
/// that accepts it writes that same buffer. The connections of each profile are kept as a snapshot
/// grouped by event loop (rebuilt when one comes or goes), so a batch of events costs at most one
/// task per event loop (see ``HubMailbox``), which decides and writes for each of its connections
/// and flushes each once.
final class Hub: Sendable {
    /// The connections of one profile on one event loop.
    struct LoopGroup: Sendable {
        var loop: any EventLoop
        var connections: [SimulatorConnection]
    }

    private struct State {
        var connections: [Int: SimulatorConnection] = [:]
        /// Connections that play the shared timeline, per profile, grouped by event loop.
        var shared: [String: [LoopGroup]] = [:]
        var nextID = 0
        var shuttingDown = false
        /// Connection slots held per limit key (`connection_limit`), reserved at the upgrade decision.
        var slots: [String: Int] = [:]
    }

    let world: SimulatorWorld
    let logger: Logger
    let clock: any SimulationClock
    /// Recent events of the profiles that declare `activity`, by profile name.
    let activity: [String: ActivityLog]
    private let state = Mutex(State())
    /// Per-profile event histories (profiles with a `history:` section).
    let history = HistoryStore()
    /// The last events handed over, for the dashboard: one entry per event, not per connection.
    let feed = EventFeed()
    /// Connections grouped by what decides their deliveries, so that each event is judged once per group.
    let deliveryClasses = DeliveryClasses()
    private let eventCount = Mutex(0)
    /// When the shared timeline starts: told of every connection and client message.
    let start: TimelineStart
    private let allocator = ByteBufferAllocator()
    /// One mailbox per event loop, made when first needed.
    private let mailboxes = Mutex<[ObjectIdentifier: HubMailbox]>([:])

    /// At `--speed max`, how long to wait for a full connection before leaving it behind.
    let stallAllowance: Duration
    /// Told of every delivery posted and written, for in-process callers that wait for the server.
    private let probe: SimulatorProbe?

    init(world: SimulatorWorld, clock: any SimulationClock, logger: Logger, stallAllowance: Duration = .seconds(1), probe: SimulatorProbe? = nil) {
        self.world = world
        self.probe = probe
        self.stallAllowance = stallAllowance
        self.clock = clock
        self.logger = logger
        self.start = TimelineStart(clock: clock)
        var logs: [String: ActivityLog] = [:]
        for (name, entry) in world.profiles {
            if let spec = entry.profile.activity { logs[name] = ActivityLog(capacity: spec.size) }
        }
        self.activity = logs
        seedHistory()
    }

    /// Records each profile's `history.initial` events.
    private func seedHistory() {
        for name in world.profileOrder {
            guard let entry = world.profiles[name], let spec = entry.profile.history, let initial = spec.initial else { continue }
            var ctx = EvaluationContext(variables: ["settings": entry.settings, "entities": entry.entities], now: clock.wallTime)
            do {
                let events = try initial.evaluate(in: &ctx)
                for e in events.arrayValue ?? [] { record(e, topic: nil, entry: entry) }
            } catch {
                logger.error("profile \(name): history.initial: \(error)")
            }
        }
    }

    /// Records an event in its profile's history, if the profile keeps one.
    private func record(_ event: Value, topic: String?, entry: SimulatorWorld.ProfileEntry) {
        guard let spec = entry.profile.history else { return }
        var ctx = EvaluationContext(
            variables: ["event": event, "topic": topic.map(Value.string) ?? .null, "settings": entry.settings, "entities": entry.entities],
            now: clock.wallTime)
        do {
            let key = try spec.key.evaluate(in: &ctx)
            guard !key.isNull else { return }
            let item = try spec.item?.evaluate(in: &ctx) ?? event
            history.record(item, profile: entry.profile.name, key: key.plainText, size: spec.size)
        } catch {
            logger.warning("profile \(entry.profile.name): history key or item: \(error)")
        }
    }

    func nextConnectionID() -> Int {
        state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
    }

    /// Adds a connection; returns false when the server is shutting down.
    func add(_ c: SimulatorConnection) -> Bool {
        let added = state.withLock { s in
            guard !s.shuttingDown else { return false }
            s.connections[c.id] = c
            if !c.ownsTimeline {
                var groups = s.shared[c.profileName, default: []]
                if let i = groups.firstIndex(where: { $0.loop === c.eventLoop }) {
                    groups[i].connections.append(c)
                } else {
                    groups.append(LoopGroup(loop: c.eventLoop, connections: [c]))
                }
                s.shared[c.profileName] = groups
            }
            return true
        }
        if added { start.connected() }
        return added
    }

    func remove(_ c: SimulatorConnection) {
        state.withLock { s in
            guard s.connections.removeValue(forKey: c.id) != nil, !c.ownsTimeline else { return }
            var groups = s.shared[c.profileName, default: []]
            if let i = groups.firstIndex(where: { $0.loop === c.eventLoop }) {
                groups[i].connections.removeAll { $0 === c }
                if groups[i].connections.isEmpty { groups.remove(at: i) }
            }
            s.shared[c.profileName] = groups.isEmpty ? nil : groups
        }
    }

    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Every open connection, by id.
    var allConnections: [SimulatorConnection] { state.withLock { $0.connections.values.sorted { $0.id < $1.id } } }

    /// Reserves one of `max` connection slots for `key` atomically, at the upgrade decision, so
    /// that upgrades decided together cannot exceed the limit. Returns the number held when full.
    func reserveSlot(key: String, max: Int) -> Result<SlotReservation, SlotsFull> {
        state.withLock { s in
            let held = s.slots[key, default: 0]
            guard held < max else { return .failure(SlotsFull(held: held)) }
            s.slots[key] = held + 1
            return .success(SlotReservation(hub: self, key: key))
        }
    }

    fileprivate func releaseSlot(key: String) {
        state.withLock { s in
            let held = s.slots[key, default: 0] - 1
            s.slots[key] = held > 0 ? held : nil
        }
    }

    struct SlotsFull: Error {
        var held: Int
    }

    /// A reserved connection slot; released once (when the connection's socket closes).
    final class SlotReservation: Sendable {
        private let hub: Hub
        private let key: String
        private let released = Atomic(false)

        fileprivate init(hub: Hub, key: String) {
            self.hub = hub
            self.key = key
        }

        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            hub.releaseSlot(key: key)
        }
    }

    /// The frame for an event, per its profile; `nil` when the profile cannot render it (logged).
    func prepare(_ event: TimelineEvent) -> (profile: String, event: PreparedEvent)? {
        guard let entry = world.entry(for: event.profile) else {
            logger.error("event of stream '\(event.stream)' names unknown profile '\(event.profile ?? "-")'")
            return nil
        }
        let p = entry.profile
        let n = eventCount.withLock { c in
            c += 1
            return c
        }
        // Each event gets its own seeded randomness and sequence, so `uuid()` and `seq()` in an
        // envelope give a fresh id per event. Whole milliseconds, so that the activity log's time
        // equals a `time_ms()` in the frame.
        let now = (clock.wallTime * 1000).rounded(.down) / 1000
        do {
            let (topic, frame, item) = try entry.render(event, now: now, random: SeededRandom(seed: UInt64(n), stream: "hub"), sequence: n)
            activity[p.name]?.append(ActivityLog.Item(timeMillis: Int((now * 1000).rounded()), event: event.value, message: frame))
            return (p.name, PreparedEvent(value: event.value, topic: topic, frame: OutboundFrame(item, allocator: allocator)))
        } catch {
            logger.error("profile \(p.name) cannot render an event of stream '\(event.stream)': \(error)")
            return nil
        }
    }

    /// Delivers events (in order) to every accepting connection, or only to `only`. With `wait`,
    /// first waits until every target has room in its queue, and drops nothing.
    ///
    /// Events of the shared timeline (no `only`) are recorded in their profile's history first, so a
    /// connection that opens later finds them there. Private per-connection timelines do not record.
    func publish(_ events: [TimelineEvent], only: SimulatorConnection? = nil, wait: Bool) async {
        var byProfile: [(profile: String, events: [PreparedEvent], summaries: [TimelineEventSummary])] = []
        for event in events {
            guard let (profile, prepared) = prepare(event) else { continue }
            if only == nil, let entry = world.entry(for: event.profile) { record(event.value, topic: prepared.topic, entry: entry) }
            let summary = TimelineEventSummary(
                time: event.time, stream: event.stream, profile: profile, type: event.value["type"]?.stringValue, topic: prepared.topic)
            if let i = byProfile.firstIndex(where: { $0.profile == profile }) {
                byProfile[i].events.append(prepared)
                byProfile[i].summaries.append(summary)
            } else {
                byProfile.append((profile, [prepared], [summary]))
            }
        }
        let handedOver = Int((clock.wallTime * 1000).rounded(.down))
        for (profile, prepared, summaries) in byProfile {
            let groups: [LoopGroup]
            if let only {
                guard only.profileName == profile else { continue }
                groups = [LoopGroup(loop: only.eventLoop, connections: [only])]
            } else {
                groups = state.withLock { $0.shared[profile] ?? [] }
            }
            feed.record(summaries, connections: groups.reduce(0) { $0 + $1.connections.count }, timeMillis: handedOver)
            if wait { await waitForRoom(groups) }
            for g in groups {
                mailbox(for: g.loop).post(HubMailbox.Entry(connections: g.connections, events: prepared, mayDrop: !wait))
            }
        }
    }

    private func mailbox(for loop: any EventLoop) -> HubMailbox {
        mailboxes.withLock { m in
            let key = ObjectIdentifier(loop)
            if let box = m[key] { return box }
            let box = HubMailbox(loop: loop, probe: probe)
            m[key] = box
            return box
        }
    }

    /// Delivers one event; see ``publish(_:only:wait:)``.
    func publish(_ event: TimelineEvent, only: SimulatorConnection? = nil, wait: Bool) async {
        await publish([event], only: only, wait: wait)
    }

    /// Waits until every connection of `groups` has room for more events (or is closing): the pace
    /// of `--speed max` is the pace of the slowest reader that is still reading. A connection still
    /// full after `stallAllowance` is left behind (see ``SimulatorConnection/leaveBehindIfFull()``),
    /// so one client that stops reading cannot stop the others.
    private func waitForRoom(_ groups: [LoopGroup]) async {
        let allowance = TimeAmount.nanoseconds(Int64(stallAllowance.components.seconds) * 1_000_000_000
            + stallAllowance.components.attoseconds / 1_000_000_000)
        for g in groups {
            let connections = g.connections
            let loop = g.loop
            _ = try? await loop.flatSubmit { () -> EventLoopFuture<Void> in
                let waiting = connections.compactMap { c in c.roomFuture().map { (c, $0) } }
                guard !waiting.isEmpty else { return loop.makeSucceededVoidFuture() }
                let timeout = loop.scheduleTask(in: allowance) {
                    for (c, _) in waiting { c.leaveBehindIfFull() }
                }
                return EventLoopFuture.andAllComplete(waiting.map(\.1), on: loop).always { _ in timeout.cancel() }
            }.get()
        }
    }

    /// Waits until every connection has gone, or `timeout`.
    func waitUntilEmpty(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while connectionCount > 0 && ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { return }
        }
    }

    /// Closes every connection with `code` (1001 on shutdown) and refuses new ones.
    func closeAll(code: Int, reason: String) {
        let all = state.withLock { s -> [SimulatorConnection] in
            s.shuttingDown = true
            return Array(s.connections.values)
        }
        start.stop()
        for c in all { c.close(code: code, reason: reason) }
    }
}
