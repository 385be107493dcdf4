/// Why a benchmark could not start or run.
public struct BenchError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case invalidOption(String)
        case invalidURL(String)
        case upgradeRefused(status: Int)
        case noConnection(String)
    }

    private let kind: Kind

    /// An option that cannot be used as given.
    public static func invalidOption(_ message: String) -> BenchError { BenchError(kind: .invalidOption(message)) }
    /// A target that is not a `ws://host[:port]/path` URL.
    public static func invalidURL(_ message: String) -> BenchError { BenchError(kind: .invalidURL(message)) }
    /// The server answered the upgrade with this HTTP status instead of 101.
    public static func upgradeRefused(status: Int) -> BenchError { BenchError(kind: .upgradeRefused(status: status)) }
    /// Not one connection could be opened.
    public static func noConnection(_ reason: String) -> BenchError { BenchError(kind: .noConnection(reason)) }

    public var description: String {
        switch kind {
        case .invalidOption(let m): m
        case .invalidURL(let m): m
        case .upgradeRefused(let status): "the upgrade was refused with HTTP \(status)"
        case .noConnection(let reason): "no connection could be opened: \(reason)"
        }
    }
}
