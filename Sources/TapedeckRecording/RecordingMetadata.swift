/// Describes a recording as a whole (the single row of the `recording` table).
public struct RecordingMetadata: Sendable, Hashable {
    public var name: String
    public var toolVersion: String
    /// The upstream URL for a proxy recording.
    public var upstream: String?
    /// The scenario name for a simulator recording.
    public var scenario: String?
    public var profile: String?
    public var tags: [String]

    public init(
        name: String, toolVersion: String = RecordingMetadata.currentToolVersion, upstream: String? = nil,
        scenario: String? = nil, profile: String? = nil, tags: [String] = []
    ) {
        self.name = name
        self.toolVersion = toolVersion
        self.upstream = upstream
        self.scenario = scenario
        self.profile = profile
        self.tags = tags
    }

    /// The version string written by this build of Tapedeck.
    public static let currentToolVersion = "tapedeck 0.1.0"
}
