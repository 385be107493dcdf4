import OrderedCollections
import TapedeckCore

/// Which connections a control request is for (`"to"`): every given field must match; none given
/// selects every connection. `user` and `tenant` are what the profile derived (`conn.user`,
/// `conn.tenant`), `connection` is a connection id.
struct ConnectionSelector: Sendable {
    var path: String?
    var profile: String?
    var user: String?
    var tenant: String?
    var connection: Int?

    init(_ value: Value?) throws(ControlAPI.Failure) {
        guard let value, !value.isNull else { return }
        guard case .object(let fields) = value else {
            throw .badRequest("'to' must be an object with any of: \(ControlAPI.selectorKeys.joined(separator: ", "))")
        }
        for (key, v) in fields {
            switch key {
            case "path": path = try Self.text(v, key)
            case "profile": profile = try Self.text(v, key)
            case "user": user = try Self.text(v, key)
            case "tenant": tenant = try Self.text(v, key)
            case "connection":
                guard let id = v.intValue else { throw .badRequest("'to.connection' must be a connection id (a number)") }
                connection = id
            default:
                throw .badRequest("unknown selector key '\(key)' in 'to': use any of \(ControlAPI.selectorKeys.joined(separator: ", "))")
            }
        }
    }

    private static func text(_ v: Value, _ key: String) throws(ControlAPI.Failure) -> String {
        switch v {
        case .string(let s): return s
        case .int, .double: return v.plainText
        default: throw .badRequest("'to.\(key)' must be a string")
        }
    }
}
