public import TapedeckCore
import OrderedCollections

/// The parts of an HTTP upgrade request that authentication and rules look at.
public struct UpgradeRequest: Sendable {
    public var path: String
    /// Query parameters, decoded, in order.
    public var query: [(name: String, value: String)]
    /// Header fields, names lowercased, in order.
    public var headers: [(name: String, value: String)]

    public init(path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = []) {
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// Parses `/path?a=1&b=2`.
    public init(uri: String, headers: [(name: String, value: String)]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = String(parts.first ?? "/")
        self.query = parts.count > 1 ? Self.parseQuery(String(parts[1])) : []
        self.headers = headers.map { ($0.name.lowercased(), $0.value) }
    }

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name == n }?.value
    }

    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    /// Cookies from every `Cookie` header.
    public var cookies: [(name: String, value: String)] {
        headers.filter { $0.name == "cookie" }.flatMap { h in
            h.value.split(separator: ";").compactMap { part -> (String, String)? in
                let kv = part.split(separator: "=", maxSplits: 1)
                guard let k = kv.first else { return nil }
                let name = k.trimming(" ")
                let value = kv.count > 1 ? kv[1].trimming(" ") : ""
                return (name, Self.percentDecode(value))
            }
        }
    }

    public func cookie(_ name: String) -> String? { cookies.first { $0.name == name }?.value }

    /// The request as a value templates read as `request`: path, query, headers, cookies, and
    /// host (the Host header lowercased, without its port).
    public var value: Value {
        var q = OrderedDictionary<String, Value>()
        for (k, v) in query where q[k] == nil { q[k] = .string(v) }
        var h = OrderedDictionary<String, Value>()
        for (k, v) in headers where h[k] == nil { h[k] = .string(v) }
        var c = OrderedDictionary<String, Value>()
        for (k, v) in cookies where c[k] == nil { c[k] = .string(v) }
        // Host names are case-insensitive: `request.host` is lowercased, without the port.
        let host = header("host").map { String($0.split(separator: ":").first ?? "").lowercased() }
        return .object(["path": .string(path), "query": .object(q), "headers": .object(h), "cookies": .object(c), "host": host.map(Value.string) ?? .null])
    }

    static func parseQuery(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecode(String(kv[0])), kv.count > 1 ? percentDecode(String(kv[1])) : "")
        }
    }

    static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") { bytes.append(0x20); continue }
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
                continue
            }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
