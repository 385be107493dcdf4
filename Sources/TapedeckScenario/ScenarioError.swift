/// A problem in a scenario or profile file, located at a line and column.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// A warning does not stop a file from loading (a reference to an undefined `vars` name).
    public var isWarning = false

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    /// A problem that does not stop the file from loading.
    public static func warning(_ message: String, at location: SourceLocation) -> ScenarioError {
        var w = ScenarioError(message, at: location)
        w.isWarning = true
        return w
    }

    /// `file:line:col: message` (`file:line:col: warning: message`), the format compilers and
    /// editors understand.
    public var description: String { "\(location): \(isWarning ? "warning: " : "")\(message)" }
}

/// Every problem found in one or more files. Thrown when loading fails.
public struct ScenarioErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ScenarioError]

    public init(_ errors: [ScenarioError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
