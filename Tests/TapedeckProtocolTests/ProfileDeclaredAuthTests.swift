import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol
import OrderedCollections

/// Credential lookups, refusal headers and token claims come from the profile: a made-up protocol
/// with its own conventions works without any Swift of its own.
@Suite("Profile-declared credentials, refusals and tokens")
struct ProfileDeclaredAuthTests {
    let now = 1_737_109_800.0

    /// An API key in the `X-Key` header, `<tenant>/<key>`, looked up by its key in
    /// `entities.keyring`, expiring at `until`.
    let keyProfile = """
        profile: keyring
        endpoints: [/ws]
        auth:
          credentials:
            - header: X-Key
              lookup: { table: keyring, keys: ["{{ credential }}", "{{ split(credential, '/')[-1] }}"], expires: until, unknown: who are you, expired: key too old }
          identity: { owner: "{{ claims.owner }}" }
          unauthorized:
            status: 401
            headers: { WWW-Authenticate: 'ApiKey header="X-Key"', X-Why: "{{ reason }}" }
            body: "{{ reason }}"
        token:
          claims: { login: "{{ upper(user) }}" }
          options:
            org: { claim: org_id, default: demo-org, help: the organisation }
            roles: { claim: roles, list: true }
        """

    let entities: Value = ["keyring": ["k-1": ["owner": "ann"], "k-old": ["owner": "old", "until": "2020-01-01T00:00:00Z"]]]

    func outcome(_ headers: [(String, String)]) async throws -> AuthOutcome {
        let p = try ProfileLoader().load(text: keyProfile, file: "keyring.yaml")
        return try await Authenticator().authenticate(
            UpgradeRequest(uri: "/ws", headers: headers), profile: p, endpoint: "/ws", entities: entities, settings: [:], now: now)
    }

    @Test func aKeyIsLookedUpInTheProfilesTableByTheProfilesKeys() async throws {
        #expect(try await outcome([("X-Key", "k-1")]) == .accepted(conn: ["owner": "ann", "claims": ["owner": "ann"], "endpoint": "/ws"]))
        #expect(try await outcome([("X-Key", "acme/k-1")]) == .accepted(conn: ["owner": "ann", "claims": ["owner": "ann"], "endpoint": "/ws"]))
    }

    @Test func refusalsGiveTheProfilesReasonsAndHeaders() async throws {
        #expect(try await outcome([("X-Key", "nope")]) == .refused(
            status: 401, body: "who are you", reason: "who are you", headers: ["www-authenticate": #"ApiKey header="X-Key""#, "x-why": "who are you"]))
        #expect(try await outcome([("X-Key", "k-old")]) == .refused(
            status: 401, body: "key too old", reason: "key too old", headers: ["www-authenticate": #"ApiKey header="X-Key""#, "x-why": "key too old"]))
    }

    @Test func theBuiltInProfilesDeclareWhatSwiftUsedToKnow() async throws {
        // unified-logs: a signed cookie `<token>.<signature>` is found by its token; past expires_at it is refused.
        let ul = try ProfileLoader().load("unified-logs")
        let sessions: Value = ["sessions": ["s1": ["userId": "alice"], "s0": ["userId": "old", "expires_at": "2020-01-01T00:00:00Z"]]]
        func ulOutcome(_ cookie: String) async throws -> AuthOutcome {
            try await Authenticator().authenticate(
                UpgradeRequest(uri: "/ws", headers: [("Cookie", "better-auth.session_token=\(cookie)")]), profile: ul, endpoint: "/ws",
                entities: sessions, settings: ul.settings, now: now)
        }
        guard case .accepted(let conn) = try await ulOutcome("s1.c2lnbmVk") else { Issue.record("a signed session cookie was refused"); return }
        #expect(conn["user"] == "alice")
        guard case .refused(401, _, "session expired", let headers) = try await ulOutcome("s0") else { Issue.record("an expired session was accepted"); return }
        #expect(headers == ["www-authenticate": "Bearer"])
        guard case .refused(401, _, "no valid session", _) = try await ulOutcome("nope.sig") else { Issue.record("an unknown session was accepted"); return }
    }

    @Test func aTokenCarriesTheClaimsTheProfileDeclares() throws {
        let spec = try ProfileLoader().load(text: keyProfile, file: "keyring.yaml").token
        #expect(try spec.claims(user: "bo", given: []) == ["login": "BO", "org_id": "demo-org"])
        #expect(try spec.claims(user: "bo", given: [("org", "o2"), ("roles", "admin, ops")]) == ["login": "BO", "org_id": "o2", "roles": ["admin", "ops"]])
        #expect(try spec.claims(user: "bo", given: [("org", ""), ("roles", "")]) == ["login": "BO", "roles": []])
        #expect(throws: TokenOptionError.self) { try spec.claims(user: "bo", given: [("orgg", "x")]) }
        do {
            _ = try spec.claims(user: "bo", given: [("orgg", "x")])
        } catch {
            #expect(error.description == "unknown option '--orgg'; did you mean '--org'? (the profiles' token options: --org, --roles)")
        }
    }

    @Test func badDeclarationsAreReportedWhereTheyAreWritten() {
        let text = """
            profile: bad
            endpoints: [/ws]
            auth:
              credentials:
                - { cookie: sid, kind: session }
                - { cookie: other, lookup: { expires: at } }
              unauthorized:
                headers: { "Bad Header": x, Content-Type: text/html }
            token:
              options:
                user: { claim: u }
                tenant: { default: x }
            """
        do {
            _ = try ProfileLoader().load(text: text, file: "bad.yaml")
            Issue.record("expected errors")
        } catch {
            let d = error.errors.map { "\($0.location.line):\($0.location.column) \($0.message)" }
            #expect(d.contains { $0.hasPrefix("5:28 unknown credential kind 'session'") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("6:32 'lookup' needs 'table'") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("8:16 'Bad Header' is not a valid HTTP header name") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("8:33 the header 'Content-Type' is set by the server") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("11:5 '--user' is an option of tapedeck token itself") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("12:13 a token option needs 'claim'") }, "\(d)")
        }
    }
}
