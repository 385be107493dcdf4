public import TapedeckCore
public import TapedeckProtocol
import OrderedCollections
import Foundation

/// Says who a client is from its upgrade request, the same way for every connection it makes:
/// the profile's `client.identity`, else its `limits.identity`, else what its `auth.identity`
/// derives (user, tenant, session, ...), else the client's IP address.
///
/// Credentials are checked with the simulator's authenticator; a request whose credentials do not
/// verify (refused, expired, or redacted in a recording) is known by its address.
public struct ClientIdentifier: Sendable {
    public let profile: Profile
    let authenticator: Authenticator
    let entities: Value
    let settings: Value

    public init(profile: Profile, authenticator: Authenticator, entities: Value = .emptyObject, settings: Value? = nil) {
        self.profile = profile
        self.authenticator = authenticator
        self.entities = entities
        self.settings = settings ?? profile.settings
    }

    /// The client's identity; `now` is the Unix time tokens are checked at.
    public func identify(path: String, query: String?, headers: [(name: String, value: String)], peer: String?, now: Double) async -> String {
        let uri = query.map { "\(path)?\($0)" } ?? path
        let request = UpgradeRequest(uri: uri, headers: headers)
        let address = Self.address(of: peer)
        let endpoint = profile.endpoints.first { $0.path == path }?.name ?? path
        let conn: Value
        switch await authenticator.authenticate(request, profile: profile, endpoint: endpoint, entities: entities, settings: settings, now: now) {
        case .accepted(let c): conn = c
        case .refused:
            // A refused request (an expired token, most often) is still the same client: read the
            // claims of its JWT without trusting them, only to say who it is.
            guard let claims = unverifiedClaims(request) else { return address }
            var ctx = EvaluationContext(variables: ["claims": claims, "request": request.value, "settings": settings, "entities": entities], now: now)
            var c = (profile.auth.identity.flatMap { try? $0.evaluate(in: &ctx) }) ?? .emptyObject
            if case .object = c {} else { c = ["identity": c] }
            c["claims"] = claims
            conn = c
        }
        return name(of: conn, request: request, now: now) ?? address
    }

    func name(of conn: Value, request: UpgradeRequest, now: Double) -> String? {
        let claims = conn["claims"] ?? .null
        var ctx = EvaluationContext(variables: ["conn": conn, "claims": claims, "request": request.value, "settings": settings, "entities": entities], now: now)
        for template in [profile.client?.identity, profile.limits.identity].compactMap({ $0 }) {
            if let v = try? template.evaluate(in: &ctx), !v.isNull { return v.plainText }
        }
        if profile.auth.identity != nil, case .object(let fields) = conn {
            let parts = fields.filter { !["claims", "endpoint"].contains($0.key) && !$0.value.isNull }.map { "\($0.key)=\($0.value.plainText)" }
            if !parts.isEmpty { return parts.joined(separator: " ") }
        }
        if !profile.auth.credentials.isEmpty, !claims.isNull, claims != .emptyObject { return claims.jsonString }
        return nil
    }

    /// The payload of the first JWT among the profile's credentials, unverified.
    func unverifiedClaims(_ request: UpgradeRequest) -> Value? {
        for source in profile.auth.credentials {
            guard case .jwt = source.kind else { continue }
            let token: String?
            switch source.place.resolved(settings: settings) {
            case .cookie(let n): token = request.cookie(n)
            case .query(let n): token = request.queryValue(n)
            case .header(let n): token = request.header(n)
            case .bearer:
                token = request.header("authorization").flatMap { h in
                    h.lowercased().hasPrefix("bearer ") ? String(h.dropFirst(7)).trimming(" ") : nil
                }
            }
            let parts = token?.split(separator: ".", omittingEmptySubsequences: false) ?? []
            guard parts.count == 3 else { continue }
            var b64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b64.count % 4 != 0 { b64 += "=" }
            guard let data = Data(base64Encoded: b64), let claims = try? Value(jsonBytes: [UInt8](data)), case .object = claims else { continue }
            return claims
        }
        return nil
    }

    /// `127.0.0.1:53211` -> `127.0.0.1`, `[::1]:53211` -> `::1`.
    public static func address(of peer: String?) -> String {
        guard let peer, !peer.isEmpty else { return "unknown" }
        if peer.hasPrefix("["), let end = peer.firstIndex(of: "]") { return String(peer[peer.index(after: peer.startIndex)..<end]) }
        if peer.count(where: { $0 == ":" }) == 1, let colon = peer.lastIndex(of: ":") { return String(peer[..<colon]) }
        return peer
    }
}
