/// An error of a replay: a bad argument, an unreadable recording, a secret that must be supplied.
public struct ReplayError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case invalidArgument(String)
        case recording(String)
        case missingSecret(String)
        case network(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// A command-line or configuration value is invalid.
    public static func invalidArgument(_ message: String) -> ReplayError { .init(.invalidArgument(message)) }
    /// The recording cannot be read or replayed.
    public static func recording(_ message: String) -> ReplayError { .init(.recording(message)) }
    /// A value redacted at record time is needed and was not supplied.
    public static func missingSecret(_ message: String) -> ReplayError { .init(.missingSecret(message)) }
    /// Listening or connecting failed.
    public static func network(_ message: String) -> ReplayError { .init(.network(message)) }

    public var description: String {
        switch kind {
        case .invalidArgument(let m): m
        case .recording(let m): m
        case .missingSecret(let m): m
        case .network(let m): m
        }
    }
}
