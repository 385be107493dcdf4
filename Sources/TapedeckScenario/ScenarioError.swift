/// A problem in a scenario or profile file, located at a line and column.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    /// `file:line:col: message`, the format compilers and editors understand.
    public var description: String { "\(location): \(message)" }
}

/// Every problem found in one or more files. Thrown when loading fails.
public struct ScenarioErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ScenarioError]

    public init(_ errors: [ScenarioError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
