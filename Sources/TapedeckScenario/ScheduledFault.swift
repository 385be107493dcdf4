import TapedeckCore

/// A fault a scenario schedules (`faults:`): at a scenario time, the same fault the control API's
/// `POST /_tapedeck/faults` injects, with the same fields (`kind`, `to`, `code`, `reason`,
/// `seconds`, `status`, `retry_after`, `percent`).
public struct ScheduledFault: Sendable, Hashable {
    /// The fault kinds.
    public static let kinds = ["close", "reset", "refuse_upgrades", "stall", "drop", "duplicate"]

    /// Scenario seconds since the timeline's start.
    public var at: Double
    /// The fault as the control API takes it (`seconds` in seconds).
    public var spec: Value
    public var location: SourceLocation

    public init(at: Double, spec: Value, location: SourceLocation) {
        self.at = at
        self.spec = spec
        self.location = location
    }
}
