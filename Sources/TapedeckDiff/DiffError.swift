/// An error that stops a diff: a rule that cannot be read, or a file that is not a recording.
///
/// Differences between recordings are never errors; they are the diff's result.
public struct DiffError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case badRule(String)
        case unreadable(String)
        case badOption(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// An ignore rule, a rules file or a profile preset that cannot be read.
    public static func badRule(_ message: String) -> DiffError { .init(.badRule(message)) }
    /// A recording (or its profile) that cannot be read.
    public static func unreadable(_ message: String) -> DiffError { .init(.unreadable(message)) }
    /// An option with a value that makes no sense (e.g. `--match` without `header:` or `query:`).
    public static func badOption(_ message: String) -> DiffError { .init(.badOption(message)) }

    public var description: String {
        switch kind {
        case .badRule(let m): "bad diff rule: \(m)"
        case .unreadable(let m): "cannot read \(m)"
        case .badOption(let m): m
        }
    }
}
