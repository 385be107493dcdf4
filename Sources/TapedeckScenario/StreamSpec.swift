public import TapedeckCore

/// One stream of a scenario: when its events happen and what they look like.
///
/// Times are in seconds of scenario time. A stream with neither `every` nor `rate` emits one event.
public struct StreamSpec: Sendable {
    public var name: String
    public var location: SourceLocation
    /// Overrides the scenario's profile for this stream's events.
    public var profile: String?
    /// Offset of the first event, from scenario start or from the end of `after`.
    public var at: Double
    /// The stream whose end this one starts after.
    public var after: String?
    /// Interval between events.
    public var every: Double?
    /// Number of events.
    public var count: Int?
    /// How long the stream lasts, from its start.
    public var duration: Double?
    /// Scenario time at which the stream stops.
    public var until: Double?
    /// Each event is delayed by a random amount in `[0, jitter)`.
    public var jitter: Double
    /// What each event looks like.
    public var kind: Kind
    /// Values this stream's templates read as `vars.<key>`, over the scenario's `vars`.
    public var vars: Value = .emptyObject
    /// Where each field of the stream's templates is written, for errors that name the field:
    /// keyed `event` + path (`event:data.severity`), `events[2]:` + path for timed events, and
    /// `progress.event:`, `progress.final:` + path for a progress run.
    public var fieldLocations: [String: SourceLocation] = [:]

    /// What a stream generates.
    public enum Kind: Sendable {
        /// One event per tick, from a template.
        case events(Template)
        /// A run in steps: one event per step while it runs, then one final event.
        case progress(ProgressRun)
        /// An explicit list of events, each at its own offset from the stream's start (`events:`),
        /// as `tapedeck scenario from-recording` writes them.
        case timed([TimedEvent])
    }

    public init(
        name: String, location: SourceLocation, profile: String? = nil, at: Double = 0, after: String? = nil,
        every: Double? = nil, count: Int? = nil, duration: Double? = nil, until: Double? = nil, jitter: Double = 0,
        kind: Kind
    ) {
        self.name = name
        self.location = location
        self.profile = profile
        self.at = at
        self.after = after
        self.every = every
        self.count = count
        self.duration = duration
        self.until = until
        self.jitter = jitter
        self.kind = kind
    }

    /// The number of ticks, or `nil` when the stream never ends.
    public var tickCount: Int? {
        if case .timed(let events) = kind { return events.count }
        guard let every, every > 0 else {
            if case .progress(let run) = kind { return run.ticks }
            return 1
        }
        var n: Int? = count
        // Events at start + k * every for start <= t < start + for, counted in whole nanoseconds so
        // that `every: 100ms, for: 1s` is exactly 10 events, whatever the floating-point error.
        if let duration {
            let d = Self.nanoseconds(duration)
            // The first tick at or past the end, found from an estimate (exact up to rounding).
            var k = d <= 0 ? 0 : max(0, Int((Double(d) / (every * 1e9)).rounded(.up)))
            while k > 0 && offsetNanoseconds(tick: k - 1) >= d { k -= 1 }
            while offsetNanoseconds(tick: k) < d { k += 1 }
            n = min(n ?? .max, k)
        }
        return n
    }

    /// Seconds as whole nanoseconds (the resolution of stream times).
    static func nanoseconds(_ seconds: Double) -> Int64 {
        let n = (seconds * 1e9).rounded()
        return n >= Double(Int64.max) ? .max : n <= Double(Int64.min) ? .min : Int64(n)
    }

    /// The offset of tick `k` from the stream's start in whole nanoseconds: `k * every`, rounded
    /// once, so that `rate: 3/s` has its fourth tick at exactly 1 s and `every: 100ms` its
    /// thousandth at exactly 100 s.
    /// A timed stream's tick is at its event's own `at`.
    func offsetNanoseconds(tick: Int) -> Int64 {
        if case .timed(let events) = kind { return Self.nanoseconds(events[tick].at) }
        return Self.nanoseconds(Double(tick) * (every ?? 0))
    }

    /// The offset of tick `k` from the stream's start, in seconds (see `offsetNanoseconds`).
    func offset(tick: Int) -> Double {
        Double(offsetNanoseconds(tick: tick)) / 1e9
    }

    /// The nominal end of the stream relative to its own start, ignoring jitter; `nil` when it never ends.
    public var nominalLength: Double? {
        if case .progress(let run) = kind { return run.duration }
        if case .timed(let events) = kind { return events.last?.at ?? 0 }
        guard let every, every > 0 else { return 0 }
        if let duration { return count.map { min(duration, Double($0 - 1) * every) } ?? duration }
        if let count { return Double(max(0, count - 1)) * every }
        return nil
    }
}

/// A run in steps (`progress:`): a job, an upload, a migration, anything that reports how far it
/// has got.
///
/// It emits one `event` per step, `steps` of them evenly spread over `duration` (the first at
/// the start), then one `final` event at the end; with `stop_at` below 1 it stops early (a run
/// that fails part-way): the final event comes at that fraction of `duration`, after the steps
/// before it. Templates see `progress` with `step` (1-based), `steps`, `fraction` (0 to 1, the
/// share done), `percent` (whole percent, rounded down), `phase` (one of `phases`, spread evenly
/// over the run), `final` (true for the final event), `started_at` (ISO 8601) and `elapsed`
/// (seconds).
public struct ProgressRun: Sendable {
    /// How long the run takes (to its end when it does not stop early).
    public var duration: Double
    /// Number of step events before the final one (when the run does not stop early).
    public var steps: Int
    /// Where the run stops, as a fraction of it (0 < stop_at <= 1); 1 runs to the end.
    public var stopAt: Double
    /// Names of the run's phases, in order, spread evenly over it (`progress.phase`).
    public var phases: [String]
    /// The event of each step.
    public var event: Template
    /// The last event.
    public var final: Template

    public init(duration: Double, steps: Int, stopAt: Double = 1, phases: [String] = [], event: Template, final: Template) {
        self.duration = duration
        self.steps = steps
        self.stopAt = stopAt
        self.phases = phases
        self.event = event
        self.final = final
    }

    /// Events of one run: the steps up to `stop_at`, then the final one.
    public var ticks: Int { Int((Double(steps) * stopAt).rounded(.down)) + 1 }

    /// The share of the run done at tick `k` (the final event's is `stop_at`).
    public func fraction(tick k: Int) -> Double { k >= ticks - 1 ? stopAt : Double(k) / Double(steps) }

    /// The phase at a fraction of the run, `nil` without phases.
    public func phase(at fraction: Double) -> String? {
        guard !phases.isEmpty else { return nil }
        return phases[max(0, min(phases.count - 1, Int(fraction * Double(phases.count))))]
    }
}

/// One event of an `events:` list: its offset from the stream's start and its template.
public struct TimedEvent: Sendable {
    /// Seconds from the stream's start (never before the previous event's).
    public var at: Double
    /// What the event looks like.
    public var template: Template

    public init(at: Double, template: Template) {
        self.at = at
        self.template = template
    }
}
