/// Settings of a recording comparison; every setting has a default.
public struct DiffOptions: Sendable {
    /// Extra rules, as given to `--ignore` (JSON paths, named patterns, `re:REGEX`).
    public var ignore: [String]
    /// Rules files to read (the keys of a profile's `diff:` section).
    public var rulesFiles: [String]
    /// Whether a `.tapedeck-diff.yaml` beside either recording adds rules.
    public var discoverRulesFiles: Bool
    /// Whether the profile's `diff:` preset applies.
    public var useProfilePreset: Bool
    /// A profile (built-in name or file) to use instead of the one the recordings name.
    public var profile: String?
    /// How connections are paired.
    public var match: ConnectionMatch
    /// A gap between matched messages that drifts by more than this counts as a difference.
    public var timingToleranceNanos: Int64?
    /// A message found on both sides in a different order counts as a difference only when its time
    /// since the connection opened moved by more than this (replies and events that race each other
    /// arrive in either order).
    public var reorderWindowNanos: Int64
    /// At most this many findings are listed per connection (all are counted).
    public var maxFindingsPerConnection: Int
    /// At most this many aligned rows are kept per connection for side-by-side reports.
    public var maxRowsPerConnection: Int
    /// The alignment's edit budget per direction of a connection before it pairs by position.
    public var maxAlignmentEdits: Int

    public init(
        ignore: [String] = [], rulesFiles: [String] = [], discoverRulesFiles: Bool = true, useProfilePreset: Bool = true,
        profile: String? = nil, match: ConnectionMatch = .pathAndOrder, timingToleranceNanos: Int64? = nil,
        reorderWindowNanos: Int64 = 100_000_000,
        maxFindingsPerConnection: Int = 100, maxRowsPerConnection: Int = 200, maxAlignmentEdits: Int = 2000
    ) {
        self.ignore = ignore
        self.rulesFiles = rulesFiles
        self.discoverRulesFiles = discoverRulesFiles
        self.useProfilePreset = useProfilePreset
        self.profile = profile
        self.match = match
        self.timingToleranceNanos = timingToleranceNanos
        self.reorderWindowNanos = max(0, reorderWindowNanos)
        self.maxFindingsPerConnection = max(0, maxFindingsPerConnection)
        self.maxRowsPerConnection = max(0, maxRowsPerConnection)
        self.maxAlignmentEdits = max(1, maxAlignmentEdits)
    }

    /// The file name looked for beside the recordings.
    public static let rulesFileName = ".tapedeck-diff.yaml"
}
