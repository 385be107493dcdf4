import Foundation
import HTTPTypes
import Testing
import TapedeckCore
import TapedeckServer

/// A made-up protocol's authentication, described in YAML only: its own session cookie format,
/// entity table, expiry field and refusal headers, over real sockets.
@Suite("Profile-declared authentication over WebSocket")
struct ProfileAuthServerTests {
    /// A profile whose session cookie is `v1:<token>:<signature>`, looked up by its token in
    /// `entities.logins`, expiring at `valid_until` (Unix seconds); refusals carry its own headers.
    static let profile = """
        profile: made-up-sessions
        endpoints: [/live]
        auth:
          credentials:
            - cookie: sid
              lookup:
                table: logins
                key: "{{ split(credential, ':')[1] }}"
                expires: valid_until
                unknown: no such login
                expired: login expired
          identity: { user: "{{ claims.login }}" }
          allow: "{{ claims.login != 'mallory' }}"
          unauthorized:
            status: 401
            headers: { WWW-Authenticate: 'Cookie realm="made-up"', X-Refusal-Reason: "{{ reason }}" }
            body: { refused: "{{ reason }}" }
          forbidden:
            status: 403
            body: { refused: forbidden }
          connection_limit: { max: 1, per: "{{ conn.user }}", status: 429, headers: { Retry-After: "5" }, body: busy }
        on_connect:
          reply: { hello: "{{ conn.user }}" }
        """

    static func scenario(profilePath: String) -> String {
        """
        scenario: made-up
        profile: \(profilePath)
        entities:
          logins:
            tok-ann: { login: ann }
            tok-old: { login: old, valid_until: 1000 }
            tok-mal: { login: mallory }
        streams:
          - name: idle
            every: 1h
            event: { type: idle }
        """
    }

    func withMadeUpProfile(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("made-up.yaml").path
        try Self.profile.write(toFile: path, atomically: true, encoding: .utf8)
        try await withSimulator(scenario: Self.scenario(profilePath: path), body)
    }

    func header(_ name: String, in head: [String]) -> String? {
        head.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    @Test func aCookieOfItsOwnFormatIsLookedUpInItsOwnTable() async throws {
        try await withMadeUpProfile { port in
            #expect(try await rawUpgrade(port: port, path: "/live", headers: ["Cookie": "sid=v1:tok-ann:c2lnbmF0dXJl"]).status == 101)
            // The whole value is not the key: only the part the profile's key template picks.
            let whole = try await rawUpgrade(port: port, path: "/live", headers: ["Cookie": "sid=tok-ann"])
            #expect(whole.status == 401)
            #expect(whole.body.contains(#""refused":"no such login""#))
        }
    }

    @Test func refusalsCarryTheProfilesHeadersAndReasons() async throws {
        try await withMadeUpProfile { port in
            let missing = try await rawUpgrade(port: port, path: "/live", headers: [:])
            #expect(missing.status == 401)
            #expect(header("WWW-Authenticate", in: missing.head) == #"Cookie realm="made-up""#)
            #expect(header("X-Refusal-Reason", in: missing.head) == "missing credentials")

            let expired = try await rawUpgrade(port: port, path: "/live", headers: ["Cookie": "sid=v1:tok-old:sig"])
            #expect(expired.status == 401)
            #expect(header("X-Refusal-Reason", in: expired.head) == "login expired")
            #expect(expired.body.contains(#""refused":"login expired""#))

            // A refusal without headers has none: nothing is added behind the profile's back.
            let forbidden = try await rawUpgrade(port: port, path: "/live", headers: ["Cookie": "sid=v1:tok-mal:sig"])
            #expect(forbidden.status == 403)
            #expect(header("WWW-Authenticate", in: forbidden.head) == nil)
        }
    }

    @Test func theConnectionLimitRefusalCarriesItsHeaders() async throws {
        try await withMadeUpProfile { port in
            // While one connection of ann is open, a second is over the limit.
            let run = try await withClient(port: port, path: "/live", headers: [.cookie: "sid=v1:tok-ann:x"]) { c in
                #expect(try await c.next() == ["hello": "ann"])
                let second = try await rawUpgrade(port: port, path: "/live", headers: ["Cookie": "sid=v1:tok-ann:y"])
                try await c.close()
                return second
            }
            #expect(run.value?.status == 429)
            #expect(header("Retry-After", in: run.value?.head ?? []) == "5")
        }
    }

    @Test func theBuiltInProfilesStillChallengeWithBearer() async throws {
        try await withSimulator(scenario: UnifiedLogsServerTests.scenario()) { port in
            let refused = try await rawUpgrade(port: port, path: "/ws", headers: [:])
            #expect(refused.status == 401)
            #expect(header("www-authenticate", in: refused.head) == "Bearer")
        }
    }
}
