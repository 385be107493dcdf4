import TapedeckCore

/// The WebSocket subprotocols a profile speaks (`subprotocols:`).
///
/// The server selects the first protocol of the client's `Sec-WebSocket-Protocol` offer (in the
/// client's order) that the profile lists, and answers it in the 101 response; rules read it as
/// `conn.subprotocol`. A client that offers none of them is refused with `refusal` when `required`,
/// else accepted without a subprotocol (`conn.subprotocol` is `null`), which a browser refuses
/// when it offered one.
public struct SubprotocolSpec: Sendable {
    /// The protocol names, e.g. `graphql-transport-ws`.
    public var names: [String]
    /// Whether an upgrade that offers none of `names` is refused.
    public var required: Bool
    /// The answer to such an upgrade (default 400); its body reads `request`, `offered`, `settings`, `entities`.
    public var refusal: Refusal

    public init(names: [String], required: Bool = false, refusal: Refusal? = nil) {
        self.names = names
        self.required = required
        self.refusal = refusal ?? Refusal(status: 400, body: .constant(.string("Unsupported WebSocket subprotocol")))
    }

    /// The protocol to answer, from the offer in the client's order; `nil` when none fits.
    public func select(offered: [String]) -> String? {
        offered.first { names.contains($0) }
    }

    /// The protocols offered in `Sec-WebSocket-Protocol` header values (comma-separated, possibly several headers).
    public static func offered(in headerValues: [String]) -> [String] {
        headerValues.flatMap { $0.split(separator: ",") }
            .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            .filter { !$0.isEmpty }
    }
}
