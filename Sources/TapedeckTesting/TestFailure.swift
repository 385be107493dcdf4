public import TapedeckScenario

/// Why a test failed: the step, what it expected, and what arrived instead.
public struct TestFailure: Error, Sendable, CustomStringConvertible {
    /// Where the failing step is written.
    public var location: SourceLocation
    /// The step's keyword (`expect`, `expect_close`, ...).
    public var step: String
    /// One line: what went wrong.
    public var message: String
    /// Further lines: the expected pattern, the closest messages that arrived and where they differ.
    public var details: [String]

    public init(location: SourceLocation, step: String, message: String, details: [String] = []) {
        self.location = location
        self.step = step
        self.message = message
        self.details = details
    }

    /// `file:line:col: step: message`, then the details indented.
    public var description: String {
        (["\(location): \(step): \(message)"] + details.map { "  " + $0 }).joined(separator: "\n")
    }
}
