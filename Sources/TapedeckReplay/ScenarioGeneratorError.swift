/// Why a scenario could not be made.
public struct ScenarioGeneratorError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable {
        case unreadable(String, String)
        case codec(String, String)
    }

    private let kind: Kind

    /// The recording cannot be read.
    public static func unreadable(_ path: String, _ reason: String) -> ScenarioGeneratorError { .init(kind: .unreadable(path, reason)) }
    /// The profile's codec cannot be built (a missing descriptor set).
    public static func codec(_ profile: String, _ reason: String) -> ScenarioGeneratorError { .init(kind: .codec(profile, reason)) }

    public var description: String {
        switch kind {
        case .unreadable(let path, let reason): "cannot read recording \(path): \(reason)"
        case .codec(let profile, let reason): "profile '\(profile)': cannot load its codec: \(reason)"
        }
    }
}
