import OrderedCollections

extension FunctionLibrary {
    /// Functions that take text apart and build objects with computed keys, for profiles that read
    /// a structured string out of a message (a GraphQL operation, a STOMP header, a topic path):
    ///
    /// | function | result |
    /// |---|---|
    /// | `regex_find(text, regex[, group])` | the first match of `regex` in `text` (or its capture `group`, a number or a name); `null` when none |
    /// | `regex_all(text, regex[, group])` | every match (or capture `group`), in order |
    /// | `object(key, value, ...)` | an object from key/value pairs, keys computed: `object(event.field, event.data)` |
    static let textFunctions: [String: Function] = [
        "regex_find": Function(deterministic: true) { _, a in
            let (text, regex, group) = try regexArguments(a)
            guard let match = text.firstMatch(of: regex) else { return .null }
            return capture(match, group)
        },
        "regex_all": Function(deterministic: true) { _, a in
            let (text, regex, group) = try regexArguments(a)
            return .array(text.matches(of: regex).map { capture($0, group) })
        },
        "object": Function(deterministic: true) { _, a in
            guard a.count % 2 == 0 else { throw ExpressionError("object() takes key, value pairs, found \(a.count) arguments") }
            var out = OrderedDictionary<String, Value>()
            for i in stride(from: 0, to: a.count, by: 2) {
                let key = a.positional[i]
                guard !key.isNull else { throw ExpressionError("object(): key \(i / 2 + 1) is null") }
                out[key.plainText] = a.positional[i + 1]
            }
            return .object(out)
        },
    ]

    private static func regexArguments(_ a: FunctionArguments) throws(ExpressionError) -> (String, Regex<AnyRegexOutput>, Value?) {
        let textValue = try a.require(0, "text")
        let pattern = try a.string(1, "regex")
        let regex: Regex<AnyRegexOutput>
        do { regex = try Regex(pattern) } catch { throw ExpressionError("bad regular expression '\(pattern)': \(error)") }
        // Anything but a string (null, a number) has no match.
        return (textValue.stringValue ?? "", regex, a.value(2, "group"))
    }

    private static func capture(_ match: Regex<AnyRegexOutput>.Match, _ group: Value?) -> Value {
        let output = match.output
        if let name = group?.stringValue {
            return output[name]?.substring.map { .string(String($0)) } ?? .null
        }
        let index = group?.intValue ?? 0
        guard index >= 0, index < output.count else { return .null }
        return output[index].substring.map { .string(String($0)) } ?? .null
    }
}
