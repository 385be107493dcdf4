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

    /// What a stream generates.
    public enum Kind: Sendable {
        /// One event per tick, from a template.
        case events(Template)
        /// A job run: progress events while it runs, then one completion event.
        case jobRun(JobRun)
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
            if case .jobRun(let job) = kind { return job.steps + 1 }
            return 1
        }
        var n: Int? = count
        if let duration { n = min(n ?? .max, Int((duration / every).rounded(.down)) + (duration.truncatingRemainder(dividingBy: every) == 0 ? 0 : 1)) }
        return n
    }

    /// The nominal end of the stream relative to its own start, ignoring jitter; `nil` when it never ends.
    public var nominalLength: Double? {
        if case .jobRun(let job) = kind { return job.duration }
        if case .timed(let events) = kind { return events.last?.at ?? 0 }
        guard let every, every > 0 else { return 0 }
        if let duration { return count.map { min(duration, Double($0 - 1) * every) } ?? duration }
        if let count { return Double(max(0, count - 1)) * every }
        return nil
    }
}

/// A job run: a job with a number of lines to process, a duration and an outcome.
///
/// It emits `steps` progress events evenly over `duration`, then one completion event. Templates
/// see `job` with `id`, `total_lines`, `processed_lines`, `progress_pct`, `status`, `step`, `steps`,
/// `outcome`, `started_at` and `elapsed` (seconds).
public struct JobRun: Sendable {
    public var id: Template
    public var totalLines: Int
    public var duration: Double
    public var steps: Int
    /// `complete` or `failed`.
    public var outcome: String
    /// Progress stops at this fraction when the job fails (default 0.6).
    public var failAt: Double
    /// Statuses reported while running, in order, spread over the run.
    public var statuses: [String]
    public var progress: Template
    public var complete: Template
    /// Extra values templates can read as `job.<key>`.
    public var extra: Value

    public init(
        id: Template, totalLines: Int, duration: Double, steps: Int, outcome: String, failAt: Double, statuses: [String],
        progress: Template, complete: Template, extra: Value
    ) {
        self.id = id
        self.totalLines = totalLines
        self.duration = duration
        self.steps = steps
        self.outcome = outcome
        self.failAt = failAt
        self.statuses = statuses
        self.progress = progress
        self.complete = complete
        self.extra = extra
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
