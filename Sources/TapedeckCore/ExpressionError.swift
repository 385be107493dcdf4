/// An expression that could not be parsed or evaluated.
///
/// `offset` is a character offset into the expression text, so a caller that knows where the text
/// came from (a YAML scalar) can point at the exact line and column.
public struct ExpressionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Character offset into the expression's source, when known.
    public var offset: Int?
    /// What went wrong.
    public var message: String

    public init(_ message: String, offset: Int? = nil) {
        self.message = message
        self.offset = offset
    }

    public var description: String { message }

    static func unknownFunction(_ name: String, known: [String], offset: Int?) -> ExpressionError {
        var message = "unknown function '\(name)'"
        if let s = Suggestion.closest(to: name, in: known) { message += "; did you mean '\(s)'?" }
        return ExpressionError(message, offset: offset)
    }
}
