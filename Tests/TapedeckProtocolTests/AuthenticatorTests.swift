import Testing
import Foundation
import Crypto
import TapedeckCore
import TapedeckProtocol

@Suite("Authentication")
struct AuthenticatorTests {
    let now = 1_737_109_800.0

    func outcome(_ headers: [(String, String)], uri: String = "/api/ws", profile: String = "ops-control-center", auth: Authenticator) async throws -> AuthOutcome {
        let p = try ProfileLoader().load(profile)
        return await auth.authenticate(UpgradeRequest(uri: uri, headers: headers.map { ($0.0, $0.1) }), profile: p, endpoint: "/api/ws", entities: [:], settings: [:], now: now)
    }

    func status(_ o: AuthOutcome) -> Int {
        if case .refused(let s, _, _, _) = o { s } else { 101 }
    }

    @Test func missingOrBadCredentialsAre401() async throws {
        let auth = try await Authenticator()
        #expect(status(try await outcome([], auth: auth)) == 401)
        #expect(status(try await outcome([("Authorization", "Bearer not-a-jwt")], auth: auth)) == 401)
        let other = try await Authenticator(secret: String(repeating: "x", count: 40))
        let foreign = try await other.mint(claims: ["sub": "eve"], expiresIn: 3600, now: now)
        #expect(status(try await outcome([("Authorization", "Bearer \(foreign)")], auth: auth)) == 401)
        let expired = try await auth.mint(claims: ["sub": "old"], expiresIn: 60, now: now - 120)
        #expect(status(try await outcome([("Authorization", "Bearer \(expired)")], auth: auth)) == 401)
    }

    /// A token signed with the simulator's secret over any header and claims.
    func forge(header: String, claims: String) -> String {
        func b64(_ s: String) -> String {
            Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let input = b64(header) + "." + b64(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(Authenticator.defaultSecret.utf8)))
        let signature = Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return input + "." + signature
    }

    @Test func theAlgorithmIsFixedByConfigurationNotByTheToken() async throws {
        let auth = try await Authenticator()
        let claims = #"{"sub":"eve","exp":\#(Int(now) + 3600)}"#
        // The forger's HMAC is right: only the header differs.
        #expect(await auth.verify(forge(header: #"{"alg":"HS256","typ":"JWT"}"#, claims: claims), now: now)?["sub"] == "eve")
        for header in [#"{"alg":"none","typ":"JWT"}"#, #"{"alg":"RS256","typ":"JWT"}"#, #"{"typ":"JWT"}"#, #"{"alg":"hs256"}"#] {
            #expect(await auth.verify(forge(header: header, claims: claims), now: now) == nil, "accepted a token with header \(header)")
        }
    }

    @Test func timeClaimsOfTheWrongTypeAreRefused() async throws {
        let auth = try await Authenticator()
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        for claims in [#"{"sub":"eve","exp":"tomorrow"}"#, #"{"sub":"eve","nbf":"now"}"#, #"{"sub":"eve","exp":[1]}"#] {
            #expect(await auth.verify(forge(header: header, claims: claims), now: now) == nil, "accepted \(claims)")
        }
        #expect(await auth.verify(forge(header: header, claims: #"{"sub":"eve","nbf":\#(Int(now) + 60)}"#), now: now) == nil)
        let huge = forge(header: header, claims: #"{"sub":"\#(String(repeating: "x", count: 20_000))"}"#)
        #expect(await auth.verify(huge, now: now) == nil)
    }

    @Test func bearerOrSessionCookieIsAccepted() async throws {
        let auth = try await Authenticator()
        let token = try await auth.mint(claims: ["sub": "alice", "squads": ["platform"]], expiresIn: 3600, now: now)
        for headers in [[("Authorization", "Bearer \(token)")], [("Cookie", "theme=dark; session=\(token)")]] {
            guard case .accepted(let conn) = try await outcome(headers, auth: auth) else {
                Issue.record("expected acceptance with \(headers)")
                continue
            }
            #expect(conn["user"] == "alice")
            #expect(conn["squads"] == ["platform"])
        }
    }

    @Test func authenticatedButNotPermittedIs403() async throws {
        let auth = try await Authenticator()
        let token = try await auth.mint(claims: ["sub": "nobody", "permissions": []], expiresIn: 3600, now: now)
        guard case .refused(let s, let body, _, _) = try await outcome([("Authorization", "Bearer \(token)")], auth: auth) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(s == 403)
        #expect(body["error"] == "Forbidden")
    }

    @Test func aValidCredentialWinsOverAStaleOneWhicheverComesFirst() async throws {
        let auth = try await Authenticator()
        let valid = try await auth.mint(claims: ["sub": "alice"], expiresIn: 3600, now: now)
        let stale = try await auth.mint(claims: ["sub": "old"], expiresIn: 60, now: now - 120)
        // The profile lists the cookie first: a stale cookie must not hide a valid Bearer token.
        for headers in [
            [("Cookie", "session=\(stale)"), ("Authorization", "Bearer \(valid)")],
            [("Cookie", "session=\(valid)"), ("Authorization", "Bearer \(stale)")],
            [("Cookie", "session=garbage"), ("Authorization", "Bearer \(valid)")],
        ] {
            guard case .accepted(let conn) = try await outcome(headers, auth: auth) else {
                Issue.record("expected acceptance with \(headers)")
                continue
            }
            #expect(conn["user"] == "alice")
        }
        // Both stale: 401, for the first one's reason.
        guard case .refused(401, _, let reason, _) = try await outcome([("Cookie", "session=\(stale)"), ("Authorization", "Bearer \(stale)")], auth: auth) else {
            Issue.record("expected 401")
            return
        }
        #expect(reason == "invalid or expired token")
    }

    @Test func issuerAndAudienceAreCheckedWhereConfigured() async throws {
        let auth = try await Authenticator(issuer: "https://id.example", audience: "tapedeck")
        func verified(_ claims: Value) async throws -> Bool {
            await auth.verify(try await auth.mint(claims: claims, expiresIn: 3600, now: now), now: now) != nil
        }
        #expect(try await verified(["sub": "a", "iss": "https://id.example", "aud": "tapedeck"]))
        #expect(try await verified(["sub": "a", "iss": "https://id.example", "aud": ["other", "tapedeck"]]))
        #expect(try await !verified(["sub": "a", "aud": "tapedeck"]))
        #expect(try await !verified(["sub": "a", "iss": "https://evil.example", "aud": "tapedeck"]))
        #expect(try await !verified(["sub": "a", "iss": "https://id.example"]))
        #expect(try await !verified(["sub": "a", "iss": "https://id.example", "aud": ["other"]]))
        #expect(try await !verified(["sub": "a", "iss": "https://id.example", "aud": 7]))
        // Not configured: any issuer and audience, or none.
        let open = try await Authenticator()
        #expect(await open.verify(try await open.mint(claims: ["sub": "a", "iss": "x", "aud": "y"], expiresIn: 60, now: now), now: now) != nil)
    }

    @Test func timeClaimsAllowTheConfiguredSkewAndNoMore() async throws {
        let strict = try await Authenticator()
        let skewed = try await Authenticator(leeway: 60)
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        let t = Int(now)
        // Expired 30 s ago, valid from 30 s from now, issued 30 s from now: within a 60 s skew.
        for claims in [#"{"exp":\#(t - 30)}"#, #"{"nbf":\#(t + 30)}"#, #"{"iat":\#(t + 30)}"#] {
            #expect(await strict.verify(forge(header: header, claims: claims), now: now) == nil, "strict accepted \(claims)")
            #expect(await skewed.verify(forge(header: header, claims: claims), now: now) != nil, "skewed refused \(claims)")
        }
        for claims in [#"{"exp":\#(t - 61)}"#, #"{"nbf":\#(t + 61)}"#, #"{"iat":\#(t + 61)}"#] {
            #expect(await skewed.verify(forge(header: header, claims: claims), now: now) == nil, "skewed accepted \(claims)")
        }
        await #expect(throws: AuthenticatorError.self) { try await Authenticator(leeway: 61) }
        await #expect(throws: AuthenticatorError.self) { try await Authenticator(leeway: -1) }
    }

    @Test func shortSecretsAreRejected() async {
        await #expect(throws: AuthenticatorError.self) { try await Authenticator(secret: "short") }
    }
}
