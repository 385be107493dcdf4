import Foundation

/// A regular expression on string values. Two values that both match one pattern count as equal,
/// so volatile values (a UUID, an ISO time) compare equal whatever they are.
///
/// A pattern must match the whole value (ICU syntax, as `NSRegularExpression`). A few named patterns
/// are built in: `uuid`, `iso-time`, `hex-id` (`--ignore uuid`).
public struct ValuePattern: @unchecked Sendable, Hashable, CustomStringConvertible {
    // @unchecked: NSRegularExpression is immutable and documented as safe to use from several threads.

    /// The regular expression as written.
    public let source: String
    private let regex: NSRegularExpression

    /// The built-in named patterns.
    public static let named: [String: String] = [
        "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "iso-time": "\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?",
        "hex-id": "[0-9a-fA-F]{8,}",
    ]

    /// Compiles a regular expression (whole-value match).
    public init(_ source: String) throws(DiffError) {
        do {
            regex = try NSRegularExpression(pattern: "\\A(?:" + source + ")\\z")
        } catch {
            throw .badRule("'\(source)' is not a valid regular expression")
        }
        self.source = source
    }

    /// A named pattern (`uuid`, `iso-time`, `hex-id`), or `nil`.
    public static func named(_ name: String) -> ValuePattern? {
        named[name].flatMap { try? ValuePattern($0) }
    }

    /// Whether the whole of `text` matches.
    public func matches(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [.anchored], range: range) != nil
    }

    public var description: String { source }
    public static func == (a: ValuePattern, b: ValuePattern) -> Bool { a.source == b.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }
}
