public import TapedeckCore
import OrderedCollections

/// The events of a scenario as one lazy, merged, deterministic sequence.
///
/// Nothing is materialised: each stream yields its next event only when asked, and the timeline
/// picks the earliest. The same scenario and seed always give the same events in the same order,
/// whatever the speed they are played at.
public struct Timeline: Sendable {
    public let scenario: Scenario
    /// Unix time of scenario time zero, for `now()`.
    public let epoch: Double
    /// Environment visible to `env()`.
    public let environment: [String: String]
    /// Whether to start over at the end (the scenario's `loop`, unless overridden).
    public let loop: Bool

    public init(scenario: Scenario, epoch: Double? = nil, loop: Bool? = nil, environment: [String: String] = [:]) {
        self.scenario = scenario
        self.epoch = scenario.epoch ?? epoch ?? 0
        self.loop = loop ?? scenario.loop
        self.environment = environment
    }

    /// A fresh iterator from the start.
    public func makeIterator() -> Iterator { Iterator(timeline: self) }

    /// The first `limit` events (for tests and previews). Evaluation errors are thrown.
    public func prefix(_ limit: Int) throws(ScenarioError) -> [TimelineEvent] {
        var it = makeIterator()
        var out: [TimelineEvent] = []
        while out.count < limit, let e = try it.next() { out.append(e) }
        return out
    }

    /// Absolute start time of each stream (resolving `after`).
    static func startTimes(_ streams: [StreamSpec]) -> [String: Double] {
        var byName: [String: StreamSpec] = [:]
        for s in streams { byName[s.name] = s }
        var memo: [String: Double] = [:]
        func start(_ s: StreamSpec, depth: Int) -> Double {
            if let m = memo[s.name] { return m }
            var t = s.at
            if let a = s.after, let target = byName[a], depth < streams.count {
                t += start(target, depth: depth + 1) + (target.nominalLength ?? 0)
            }
            memo[s.name] = t
            return t
        }
        for s in streams { _ = start(s, depth: 0) }
        return memo
    }

    /// Walks the merged timeline.
    public struct Iterator: Sendable {
        var streams: [StreamCursor]
        let period: Double?

        init(timeline: Timeline) {
            let starts = Timeline.startTimes(timeline.scenario.streams)
            let s = timeline.scenario
            var period: Double?
            if timeline.loop {
                var end = 0.0
                for st in s.streams {
                    guard let length = st.nominalLength else { continue }
                    end = max(end, (starts[st.name] ?? 0) + length + (st.every ?? 0))
                }
                period = max(end, 1)
            }
            self.period = period
            self.streams = s.streams.map { st in
                StreamCursor(
                    spec: st, start: starts[st.name] ?? 0, period: period,
                    context: EvaluationContext(
                        variables: ["vars": s.vars.merging(st.vars), "entities": s.entities, "stream": .string(st.name), "t": 0, "iteration": 0],
                        random: SeededRandom(seed: s.seed, stream: st.name),
                        now: timeline.epoch,
                        environment: timeline.environment),
                    epoch: timeline.epoch,
                    profile: st.profile ?? s.profile)
            }
            for i in streams.indices { streams[i].schedule() }
        }

        /// Every field that failed in the last event that failed, each at the field's own location
        /// (`next()` throws the first of them).
        public private(set) var lastFailures: [ScenarioError] = []
        /// The last event that failed, with each failing field as `null` (for checks that can
        /// still look at the rest of it).
        public private(set) var lastPartialEvent: TimelineEvent?

        /// The next event, or `nil` at the end. A template error is thrown at the field that failed
        /// (the stream's location when that is not known); the stream has moved on, so calling
        /// `next()` again continues.
        public mutating func next() throws(ScenarioError) -> TimelineEvent? {
            var best: Int?
            for i in streams.indices {
                guard let t = streams[i].nextTime else { continue }
                if best == nil || t < streams[best!].nextTime! { best = i }
            }
            guard let i = best else { return nil }
            do {
                return try streams[i].emit()
            } catch {
                lastFailures = streams[i].failures
                lastPartialEvent = streams[i].partialEvent
                throw error
            }
        }

        /// Scenario time of the next event, without generating it.
        public var nextTime: Double? { streams.compactMap(\.nextTime).min() }
    }
}

/// The state of one stream inside a timeline.
struct StreamCursor: Sendable {
    let spec: StreamSpec
    let start: Double
    let period: Double?
    var context: EvaluationContext
    let epoch: Double
    let profile: String?
    var tick = 0
    var iteration = 0
    var sequence = 0
    var lastTime = -Double.infinity
    var nextTime: Double?
    /// The failing fields of the last event that failed.
    var failures: [ScenarioError] = []
    /// The last event that failed, its failing fields `null`.
    var partialEvent: TimelineEvent?

    init(spec: StreamSpec, start: Double, period: Double?, context: EvaluationContext, epoch: Double, profile: String?) {
        self.spec = spec
        self.start = start
        self.period = period
        self.context = context
        self.epoch = epoch
        self.profile = profile
    }

    func nominalTime(tick: Int, iteration: Int) -> Double? {
        let base = start + Double(iteration) * (period ?? 0)
        if case .progress(let run) = spec.kind {
            guard tick < run.ticks else { return nil }
            if tick == run.ticks - 1 { return base + run.duration * run.stopAt }
            return base + Double(tick) * run.duration / Double(run.steps)
        }
        if let count = spec.tickCount, tick >= count { return nil }
        let offset = spec.offset(tick: tick)
        if let until = spec.until, StreamSpec.nanoseconds(start) + spec.offsetNanoseconds(tick: tick) >= StreamSpec.nanoseconds(until) { return nil }
        return base + offset
    }

    /// Computes `nextTime` for the current tick, moving to the next loop iteration when needed.
    mutating func schedule() {
        if let t = nominalTime(tick: tick, iteration: iteration) {
            var time = t
            if spec.jitter > 0 { time += spec.jitter * context.random.unit() }
            nextTime = max(time, lastTime)
            return
        }
        guard period != nil, tick > 0 else { nextTime = nil; return }
        iteration += 1
        tick = 0
        schedule()
    }

    mutating func emit() throws(ScenarioError) -> TimelineEvent? {
        guard let time = nextTime else { return nil }
        defer {
            lastTime = time
            tick += 1
            schedule()
        }
        sequence += 1
        context.sequence = sequence
        context.scenarioTime = time
        context.now = epoch + time
        context.variables["t"] = .double(time)
        context.variables["iteration"] = .int(iteration)
        do {
            let value: Value
            switch spec.kind {
            case .events(let template):
                value = try template.evaluate(in: &context)
            case .progress(let run):
                value = try progressEvent(run, time: time)
            case .timed(let events):
                value = try events[tick].template.evaluate(in: &context)
            }
            return TimelineEvent(time: time, stream: spec.name, profile: profile, sequence: sequence, value: value)
        } catch {
            (failures, partialEvent) = fieldFailures(after: error, time: time)
            throw failures[0]
        }
    }

    /// The template that makes the current tick's event, with the key of its field locations.
    var currentTemplate: (key: String, template: Template)? {
        switch spec.kind {
        case .events(let t): return ("event", t)
        case .timed(let events): return ("events[\(tick)]", events[tick].template)
        case .progress(let run):
            return tick == run.ticks - 1 ? ("progress.final", run.final) : ("progress.event", run.event)
        }
    }

    /// One error per failing field of the current event, at the field (`error` at the stream when
    /// no field can be named), and the event with those fields `null`. Leaves the context (and its
    /// randomness) as it was.
    func fieldFailures(after error: ExpressionError, time: Double) -> ([ScenarioError], TimelineEvent?) {
        let prefix = "stream '\(spec.name)', event \(sequence)"
        let fallback = [ScenarioError("\(prefix): \(error.message)", at: spec.location)]
        guard let (key, template) = currentTemplate else { return (fallback, nil) }
        var scratch = context
        let (value, found) = template.evaluatePartially(in: &scratch)
        guard !found.isEmpty else { return (fallback, nil) }
        let partial = TimelineEvent(time: time, stream: spec.name, profile: profile, sequence: sequence, value: value)
        return (found.map { f in
            let location = spec.fieldLocations["\(key):\(f.path)"] ?? spec.fieldLocations["\(key):"] ?? spec.location
            let field = f.path.isEmpty ? "" : ", field '\(f.path)'"
            return ScenarioError("\(prefix)\(field): \(f.error.message)", at: location)
        }, partial)
    }

    mutating func progressEvent(_ run: ProgressRun, time: Double) throws(ExpressionError) -> Value {
        let isFinal = tick == run.ticks - 1
        let fraction = run.fraction(tick: tick)
        let runStart = start + Double(iteration) * (period ?? 0)
        let info: OrderedDictionary<String, Value> = [
            "step": .int(tick + 1), "steps": .int(run.steps), "fraction": .double(fraction),
            "percent": .int(Int((fraction * 100).rounded(.down))), "phase": run.phase(at: fraction).map(Value.string) ?? .null,
            "final": .bool(isFinal), "started_at": .string(Timestamp.iso8601(epoch + runStart)), "elapsed": .double(time - runStart),
        ]
        context.variables["progress"] = .object(info)
        return try (isFinal ? run.final : run.event).evaluate(in: &context)
    }
}
