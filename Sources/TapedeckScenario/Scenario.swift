public import TapedeckCore

/// A compiled scenario: what streams of events to generate, and for which profile.
///
/// Load one with `ScenarioLoader`; turn it into events with `timeline(...)`.
public struct Scenario: Sendable {
    /// The scenario's name (`scenario:`).
    public var name: String
    public var description: String?
    /// The profile this scenario's events are for: a built-in name or a path.
    public var profile: String?
    /// The seed every random value derives from.
    public var seed: UInt64
    /// The speed the scenario asks for, unless the command line overrides it.
    public var speed: Double?
    /// Whether the timeline starts over when it ends.
    public var loop: Bool
    /// The Unix time (seconds) of scenario time zero, for reproducible `now()` values; `nil` means "when it starts".
    public var epoch: Double?
    /// When the timeline starts (`start: first-message | first-connection | immediately`); `nil`
    /// leaves it to the command line (default `first-message`).
    public var startPolicy: StartPolicy?
    /// Constant values templates read as `vars`.
    public var vars: Value
    /// Named data that profiles consult as `entities` (known jobs, projects, users, tenants, ...).
    public var entities: Value
    /// Where each entity is written (`"jobs.job-1"` -> its key's location), for errors about it.
    public var entityLocations: [String: SourceLocation] = [:]
    /// Profile settings this scenario overrides (`settings:`), such as a shorter heartbeat timeout.
    public var settings: Value
    /// The streams, in file order (included files first).
    public var streams: [StreamSpec]
    /// The file the scenario came from.
    public var file: String
    /// Client scripts that `tapedeck test` runs against this scenario (`tests:`).
    public var tests: [ScenarioTest] = []
    /// Faults at given scenario times (`faults:`), in time order.
    public var faults: [ScheduledFault] = []

    public init(
        name: String, description: String? = nil, profile: String? = nil, seed: UInt64 = 0, speed: Double? = nil,
        loop: Bool = false, epoch: Double? = nil, vars: Value = .emptyObject, entities: Value = .emptyObject,
        settings: Value = .emptyObject, streams: [StreamSpec] = [], file: String = "<memory>"
    ) {
        self.name = name
        self.description = description
        self.profile = profile
        self.seed = seed
        self.speed = speed
        self.loop = loop
        self.epoch = epoch
        self.vars = vars
        self.entities = entities
        self.settings = settings
        self.streams = streams
        self.file = file
    }
}
