/// One extension as a `Sec-WebSocket-Extensions` header lists it: a name and its parameters.
///
/// `permessage-deflate; client_max_window_bits; server_max_window_bits="10"` is the extension
/// `permessage-deflate` with the parameters `client_max_window_bits` (no value) and
/// `server_max_window_bits` = `10` (RFC 6455 section 9.1 grammar; quoted values are unquoted).
public struct ExtensionOffer: Sendable, Equatable {
    /// The extension's token, lower-cased.
    public var name: String
    /// Parameters in order: the name lower-cased, the value if one was given.
    public var parameters: [(name: String, value: String?)]

    public init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.parameters.elementsEqual(b.parameters) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The extensions listed by one or more header values, in order (a header may be repeated).
    /// Returns `nil` when a value does not follow the grammar.
    public static func parse(_ values: [String]) -> [ExtensionOffer]? {
        var offers: [ExtensionOffer] = []
        for value in values {
            guard let some = parse(value) else { return nil }
            offers += some
        }
        return offers
    }

    /// The extensions listed by one header value.
    public static func parse(_ value: String) -> [ExtensionOffer]? {
        var offers: [ExtensionOffer] = []
        for element in split(value, on: ",") {
            let parts = split(element, on: ";")
            guard let name = parts.first.map(trim), isToken(name) else {
                if parts.allSatisfy({ trim($0).isEmpty }) { continue }  // empty list elements are allowed
                return nil
            }
            var offer = ExtensionOffer(name: name.lowercased())
            for part in parts.dropFirst() {
                let text = trim(part)
                if let eq = text.firstIndex(of: "=") {
                    let key = trim(String(text[..<eq]))
                    var val = trim(String(text[text.index(after: eq)...]))
                    if val.hasPrefix("\""), val.hasSuffix("\""), val.count >= 2 {
                        val = String(val.dropFirst().dropLast())
                    }
                    guard isToken(key), isToken(val) else { return nil }
                    offer.parameters.append((key.lowercased(), val))
                } else {
                    guard isToken(text) else { return nil }
                    offer.parameters.append((text.lowercased(), nil))
                }
            }
            offers.append(offer)
        }
        return offers
    }

    /// The header value for this extension: `name; a; b=1`.
    public var headerValue: String {
        ([name] + parameters.map { p in p.value.map { "\(p.name)=\($0)" } ?? p.name }).joined(separator: "; ")
    }

    /// Splits on `separator` outside double quotes.
    private static func split(_ s: String, on separator: Character) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        for c in s {
            if c == "\"" { quoted.toggle() }
            if c == separator && !quoted {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        out.append(current)
        return out
    }

    private static func trim(_ s: String) -> String {
        String(s.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }

    /// RFC 7230 `token`.
    private static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            b > 0x20 && b < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains(b)
        }
    }
}
