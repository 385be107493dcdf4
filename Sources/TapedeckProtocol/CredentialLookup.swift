public import TapedeckCore

/// How an opaque credential (an API key, a session token) is looked up in a scenario entity
/// table: a credential's `lookup:` in a profile.
///
///     - cookie: session_token
///       lookup:
///         table: sessions                                   # entities.sessions: key -> claims
///         keys: ["{{ credential }}", "{{ split(credential, '.')[0] }}"]
///         expires: expires_at                               # an entry past this time is refused
///         unknown: no valid session                         # the refusal's `reason`
///         expired: session expired
///
/// The entry found becomes the connection's `claims`.
public struct CredentialLookup: Sendable, Hashable {
    /// The entity table (`entities.<table>`), a mapping of key to claims.
    public var table: String
    /// The keys tried in order, as templates over `credential` (the value found in the request),
    /// `request` and `settings`; the first that names an entry wins. Default: the credential itself.
    public var keys: [Template]
    /// The field of an entry that holds its expiry (an ISO-8601 time or Unix seconds); `nil` when
    /// entries never expire.
    public var expires: String?
    /// The refusal's `reason` when no key names an entry.
    public var unknownReason: String
    /// The refusal's `reason` when the entry found has expired.
    public var expiredReason: String

    public init(
        table: String, keys: [Template] = [CredentialLookup.credentialItself], expires: String? = nil,
        unknownReason: String = "unknown credential", expiredReason: String = "credential expired"
    ) {
        self.table = table
        self.keys = keys
        self.expires = expires
        self.unknownReason = unknownReason
        self.expiredReason = expiredReason
    }

    /// The default key: the credential as found.
    public static let credentialItself: Template = (try? Template(string: "{{ credential }}")) ?? .constant(.null)

    /// The names a key template can read.
    public static let names: Set<String> = ["credential", "request", "settings"]

    /// The entry for `credential` and whether it has expired, or `nil` when no key names one.
    public func find(_ credential: String, in entities: Value, request: Value, settings: Value, now: Double) -> (entry: Value, expired: Bool)? {
        guard let entries = entities[table] else { return nil }
        var ctx = EvaluationContext(variables: ["credential": .string(credential), "request": request, "settings": settings], now: now)
        for key in keys {
            guard let k = try? key.evaluate(in: &ctx), !k.isNull, let entry = entries[k.plainText] else { continue }
            return (entry, isExpired(entry, now: now))
        }
        return nil
    }

    func isExpired(_ entry: Value, now: Double) -> Bool {
        guard let expires, let v = entry[expires], !v.isNull else { return false }
        let at: Double? = if let s = v.stringValue { Timestamp.parse(s) } else { v.doubleValue }
        guard let at else { return false }
        return at <= now
    }
}
