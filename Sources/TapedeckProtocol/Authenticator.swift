public import TapedeckCore
import JWTKit
import Foundation
public import OrderedCollections

/// The outcome of authenticating an upgrade request.
public enum AuthOutcome: Sendable, Equatable {
    /// Accepted: `conn` is the connection's identity (the profile's `identity`, plus `claims`).
    case accepted(conn: Value)
    /// Refused with an HTTP status, a body and the profile's extra response headers.
    case refused(status: Int, body: Value, reason: String, headers: OrderedDictionary<String, String> = [:])
}

/// Verifies credentials at upgrade time, per a profile's `auth` section, and mints development tokens.
///
/// JWTs are HS256 with the simulator's secret (at least 32 bytes).
public struct Authenticator: Sendable {
    /// The default development secret, used when none is configured.
    public static let defaultSecret = "tapedeck-development-secret-do-not-use-in-production"

    private let keys: JWTKeyCollection
    public let secret: String
    /// The `iss` a JWT must carry; `nil`: any, or none.
    public let issuer: String?
    /// The audience a JWT's `aud` must name (the string itself, or a list that holds it); `nil`: any.
    public let audience: String?
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds: at most ``maximumLeeway``.
    public let leeway: Double

    /// The most clock skew a configuration may allow: 60 s.
    public static let maximumLeeway = 60.0

    /// An authenticator for `secret`; throws if the secret is shorter than 32 bytes, or the
    /// leeway is not 0 to 60 s.
    public init(
        secret: String = Authenticator.defaultSecret, issuer: String? = nil, audience: String? = nil, leeway: Double = 0
    ) async throws(AuthenticatorError) {
        guard secret.utf8.count >= 32 else { throw .shortSecret(secret.utf8.count) }
        guard leeway >= 0, leeway <= Self.maximumLeeway else { throw .leeway(leeway) }
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    /// Mints a JWT with `claims`; adds `iat`, and `exp` when `expiresIn` is given, unless `claims` has them.
    public func mint(claims: Value, expiresIn: Double?, now: Double) async throws -> String {
        var c = claims.objectValue ?? [:]
        if c["iat"] == nil { c["iat"] = .int(Int(now)) }
        if let expiresIn, c["exp"] == nil { c["exp"] = .int(Int(now + expiresIn)) }
        return try await keys.sign(Claims(value: .object(c)))
    }

    /// The longest token read; a longer one is refused without decoding it.
    public static let maximumTokenLength = 8192

    /// Verifies a JWT and returns its claims; `nil` if the signature, format or expiry is bad.
    ///
    /// The algorithm is HS256, fixed by configuration and never by the token: a header naming
    /// another algorithm (`none`, `RS256`) or none at all is refused even with a valid signature.
    /// `exp`, `nbf` and `iat` must be numbers when present; `exp` must be in the future, `nbf` and
    /// `iat` not, give or take ``leeway`` (none by default: the simulator is usually the token's
    /// issuer). With ``issuer`` or ``audience`` configured, `iss` must be it and `aud` must name it.
    public func verify(_ token: String, now: Double) async -> Value? {
        guard token.utf8.count <= Self.maximumTokenLength, Self.algorithm(of: token) == "HS256" else { return nil }
        guard let claims = try? await keys.verify(token, as: Claims.self) else { return nil }
        for name in ["exp", "nbf", "iat"] {
            if let v = claims.value[name], !v.isNull, v.doubleValue == nil { return nil }
        }
        if let exp = claims.value["exp"]?.doubleValue, exp + leeway <= now { return nil }
        if let nbf = claims.value["nbf"]?.doubleValue, nbf - leeway > now { return nil }
        if let iat = claims.value["iat"]?.doubleValue, iat - leeway > now { return nil }
        if let issuer, claims.value["iss"]?.stringValue != issuer { return nil }
        if let audience {
            switch claims.value["aud"] {
            case .string(let aud)? where aud == audience: break
            case .array(let auds)? where auds.contains(.string(audience)): break
            default: return nil
            }
        }
        return claims.value
    }

    /// The `alg` of a JWT's header, if the header is readable JSON.
    static func algorithm(of token: String) -> String? {
        guard let header = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first else { return nil }
        var b64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        b64 += String(repeating: "=", count: (4 - b64.count % 4) % 4)
        guard let data = Data(base64Encoded: b64), let text = String(data: data, encoding: .utf8),
            let value = try? Value(json: text)
        else { return nil }
        return value["alg"]?.stringValue
    }

    /// Authenticates a request for a profile.
    ///
    /// - Parameters:
    ///   - endpoint: the endpoint's name, added to `conn.endpoint`.
    ///   - entities: the scenario entities (for credentials looked up in them).
    public func authenticate(
        _ request: UpgradeRequest, profile: Profile, endpoint: String, entities: Value, settings: Value, now: Double
    ) async -> AuthOutcome {
        let spec = profile.auth
        let requestValue = request.value
        var claims: Value = .emptyObject
        if !spec.credentials.isEmpty {
            // Every credential present is tried in order and the first valid one wins, so a stale
            // cookie next to a valid Bearer token does not refuse the request. When none is
            // valid, the first present one's problem is the reason.
            var firstProblem: String?
            var valid: Value?
            for source in spec.credentials {
                guard let token = credential(source.place.resolved(settings: settings), in: request), !token.isEmpty else { continue }
                switch await check(token, kind: source.kind, entities: entities, now: now, request: requestValue, settings: settings) {
                case .success(let c): valid = c
                case .failure(let problem): firstProblem = firstProblem ?? problem.reason
                }
                if valid != nil { break }
            }
            guard let valid else {
                return refusal(spec.unauthorized, reason: firstProblem ?? "missing credentials", request: requestValue, claims: .null, conn: .null, settings: settings, entities: entities)
            }
            claims = valid
        }
        var ctx = EvaluationContext(variables: ["claims": claims, "request": requestValue, "settings": settings, "entities": entities], now: now)
        var conn: Value = .emptyObject
        if let identity = spec.identity {
            do {
                conn = try identity.evaluate(in: &ctx)
            } catch {
                return refusal(spec.unauthorized, reason: "claims do not give an identity: \(error.message)", request: requestValue, claims: claims, conn: .null, settings: settings, entities: entities)
            }
        }
        if case .object = conn {} else { conn = ["identity": conn] }
        conn["claims"] = claims
        conn["endpoint"] = .string(endpoint)
        if let allow = spec.allow {
            ctx.variables["conn"] = conn
            let allowed = (try? allow.evaluate(in: &ctx).isTruthy) ?? false
            if !allowed {
                return refusal(spec.forbidden, reason: "not authorized", request: requestValue, claims: claims, conn: conn, settings: settings, entities: entities)
            }
        }
        return .accepted(conn: conn)
    }

    struct CredentialProblem: Error {
        var reason: String
    }

    /// The claims of one credential, or why it is not valid.
    func check(
        _ token: String, kind: CredentialSource.Kind, entities: Value, now: Double, request: Value = .null, settings: Value = .emptyObject
    ) async -> Result<Value, CredentialProblem> {
        switch kind {
        case .jwt:
            guard let c = await verify(token, now: now) else { return .failure(CredentialProblem(reason: "invalid or expired token")) }
            return .success(c)
        case .lookup(let lookup):
            guard let found = lookup.find(token, in: entities, request: request, settings: settings, now: now) else {
                return .failure(CredentialProblem(reason: lookup.unknownReason))
            }
            if found.expired { return .failure(CredentialProblem(reason: lookup.expiredReason)) }
            return .success(found.entry)
        }
    }

    func credential(_ place: CredentialSource.Place, in request: UpgradeRequest) -> String? {
        switch place {
        case .cookie(let name): return request.cookie(name)
        case .query(let name): return request.queryValue(name)
        case .header(let name): return request.header(name)
        case .bearer:
            guard let h = request.header("authorization") else { return nil }
            let parts = h.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return parts[1].trimming(" ")
        }
    }

    func refusal(_ r: Refusal, reason: String, request: Value, claims: Value, conn: Value, settings: Value, entities: Value) -> AuthOutcome {
        var ctx = EvaluationContext(variables: ["request": request, "claims": claims, "conn": conn, "settings": settings, "entities": entities, "reason": .string(reason), "connections": 0])
        let body = (try? r.body.evaluate(in: &ctx)) ?? .string(reason)
        var headers: OrderedDictionary<String, String> = [:]
        for (name, value) in r.headers {
            if let v = try? value.evaluate(in: &ctx), !v.isNull { headers[name] = v.plainText }
        }
        return .refused(status: r.status, body: body, reason: reason, headers: headers)
    }

    /// JWT claims as one ordered value.
    struct Claims: JWTPayload {
        var value: Value
        init(value: Value) { self.value = value }
        init(from decoder: any Decoder) throws { value = try Value(from: decoder) }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}

/// An authenticator that cannot be made.
public struct AuthenticatorError: Error, CustomStringConvertible, Sendable {
    public let description: String
    static func shortSecret(_ n: Int) -> AuthenticatorError {
        AuthenticatorError(description: "the JWT secret must be at least 32 bytes long (HS256); this one has \(n)")
    }
    static func leeway(_ s: Double) -> AuthenticatorError {
        AuthenticatorError(description: "the JWT clock skew allowed must be 0 to \(Int(Authenticator.maximumLeeway)) seconds, not \(s)")
    }
}

extension CredentialSource.Place {
    /// The place with a templated name (`cookie: "{{ settings.session_cookie ?? 'x' }}"`) evaluated
    /// against the settings; names without `{{` are returned as they are.
    public func resolved(settings: Value) -> CredentialSource.Place {
        func resolve(_ name: String) -> String {
            guard name.contains("{{"), let t = try? Template(string: name) else { return name }
            var ctx = EvaluationContext(variables: ["settings": settings])
            return (try? t.evaluate(in: &ctx).plainText) ?? name
        }
        switch self {
        case .cookie(let n): return .cookie(resolve(n))
        case .query(let n): return .query(resolve(n))
        case .header(let n): return .header(resolve(n))
        case .bearer: return .bearer
        }
    }
}
