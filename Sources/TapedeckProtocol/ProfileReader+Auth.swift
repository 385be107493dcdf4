import TapedeckCore
import TapedeckScenario
import Yams
import OrderedCollections

/// The parts of a profile's `auth` section that describe a protocol's own conventions: how an
/// opaque credential is looked up, and which headers a refusal carries.
extension ProfileReader {
    static let lookupKeys = ["table", "keys", "key", "expires", "unknown", "expired"]

    /// `lookup: {table, keys|key, expires, unknown, expired}` of a credential.
    func credentialLookup(_ n: Node) -> CredentialLookup? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'lookup'", allowed: Self.lookupKeys) else { return nil }
        let k = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let tn = k["table"], let table = r.string(tn, what: "'table' (a scenario entity table)") else {
            r.error("'lookup' needs 'table' (the scenario entity table the credential is a key of)", at: n)
            return nil
        }
        var lookup = CredentialLookup(table: table)
        if k["keys"] != nil, let both = k["key"] { r.error("give either 'key' or 'keys', not both", at: both) }
        if let kn = k["keys"] ?? k["key"] {
            let items: [Node] = if case .sequence(let seq) = kn { Array(seq) } else { [kn] }
            let keys = items.compactMap { r.template($0, names: CredentialLookup.names) }
            if items.isEmpty { r.error("expected 'keys' to be a list of templates over 'credential', such as \"{{ credential }}\"", at: kn) }
            if keys.count == items.count, !keys.isEmpty { lookup.keys = keys }
        }
        if let en = k["expires"] { lookup.expires = r.string(en, what: "'expires' (the field holding an entry's expiry)") }
        if let un = k["unknown"], let s = r.string(un, what: "'unknown' (the reason when no entry is found)") { lookup.unknownReason = s }
        if let xn = k["expired"], let s = r.string(xn, what: "'expired' (the reason when the entry has expired)") { lookup.expiredReason = s }
        return lookup
    }

    /// `headers: {Name: value-template, ...}` of a refusal; names are sent in lower case.
    func responseHeaders(_ n: Node, names: Set<String>) -> OrderedDictionary<String, Template> {
        let r = reader
        var out: OrderedDictionary<String, Template> = [:]
        guard let pairs = r.mapping(n, what: "'headers' (a mapping of header name to value)") else { return out }
        for (name, keyNode, v) in pairs {
            let valid = !name.isEmpty && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
            }
            guard valid else { r.error("'\(name)' is not a valid HTTP header name", at: keyNode); continue }
            if ["content-type", "content-length", "connection", "upgrade", "transfer-encoding"].contains(name.lowercased()) {
                r.error("the header '\(name)' is set by the server; a refusal cannot give it", at: keyNode)
                continue
            }
            if let t = r.template(v, names: names) { out[name.lowercased()] = t }
        }
        return out
    }
}
