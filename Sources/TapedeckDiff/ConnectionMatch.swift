public import TapedeckRecording

/// How the connections of two recordings are paired: by path and order, and optionally by the value of a
/// request header or query parameter (`--match header:X-Session`, `--match query:user`).
public enum ConnectionMatch: Sendable, Hashable, CustomStringConvertible {
    /// Same path, in recording order.
    case pathAndOrder
    /// Same path and same value of this request header, in recording order.
    case header(String)
    /// Same path and same value of this query parameter, in recording order.
    case query(String)

    /// Reads `path`, `header:NAME` or `query:NAME`.
    public init(parsing text: String) throws(DiffError) {
        if text == "path" {
            self = .pathAndOrder
        } else if text.hasPrefix("header:"), text.count > 7 {
            self = .header(String(text.dropFirst(7)))
        } else if text.hasPrefix("query:"), text.count > 6 {
            self = .query(String(text.dropFirst(6)))
        } else {
            throw .badOption("--match '\(text)': expected header:NAME or query:NAME (or path)")
        }
    }

    public var description: String {
        switch self {
        case .pathAndOrder: "path and order"
        case .header(let h): "path and header \(h)"
        case .query(let q): "path and query parameter \(q)"
        }
    }

    /// The key two connections must share to be paired.
    func key(of info: ConnectionInfo) -> String {
        switch self {
        case .pathAndOrder:
            return info.path
        case .header(let name):
            let value = info.requestHeaders.first { $0.name.lowercased() == name.lowercased() }?.value
            return info.path + "\u{0}" + (value ?? "")
        case .query(let name):
            let pairs = (info.query ?? "").split(separator: "&").map { $0.split(separator: "=", maxSplits: 1) }
            let value = pairs.first { $0.first.map(String.init) == name }.flatMap { $0.count > 1 ? String($0[1]) : "" }
            return info.path + "\u{0}" + (value ?? "")
        }
    }

    /// Pairs connections: each expected connection with the next unpaired actual one with the same key.
    /// Unpaired actual connections come last, in their order.
    func pair(_ expected: [StoredConnection], _ actual: [StoredConnection]) -> [(expected: StoredConnection?, actual: StoredConnection?)] {
        var queues: [String: [Int]] = [:]
        for (i, c) in actual.enumerated() { queues[key(of: c.info), default: []].append(i) }
        var used = Set<Int>()
        var out: [(StoredConnection?, StoredConnection?)] = []
        for c in expected {
            let k = key(of: c.info)
            if var q = queues[k], !q.isEmpty {
                let i = q.removeFirst()
                queues[k] = q
                used.insert(i)
                out.append((c, actual[i]))
            } else {
                out.append((c, nil))
            }
        }
        for (i, c) in actual.enumerated() where !used.contains(i) { out.append((nil, c)) }
        return out
    }
}
