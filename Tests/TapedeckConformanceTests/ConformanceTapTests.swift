import Testing
import TapedeckConformance
import TapedeckCore
import TapedeckProtocol
@testable import TapedeckServer

/// The tap adapter on a manual clock: what the simulator's tap reports becomes observations (who
/// closed first, who the client is, refusals), without a socket or a sleep.
@Suite struct ConformanceTapTests {
    static func connection(_ id: Int, token: String) -> TappedConnection {
        TappedConnection(id: id, path: "/api/v1/ws", query: "token=\(token)", headers: [], peer: "127.0.0.1:5000\(id)", profile: "jobs-live-tail")
    }

    @Test func theTapTellsWhoClosedFirstAndKnowsTheUserBehindAnExpiredToken() async throws {
        let jobs = try ProfileLoader().load("jobs-live-tail")
        let echo = try ProfileLoader().load("echo")
        let auth = try await Authenticator()
        let clock = ManualClock()
        let tap = ConformanceTap(
            identifiers: ["jobs-live-tail": ClientIdentifier(profile: jobs, authenticator: auth), "echo": ClientIdentifier(profile: echo, authenticator: auth)],
            order: ["echo", "jobs-live-tail"], clock: clock)
        #expect(tap.profiles == ["jobs-live-tail"])  // echo states no client rules
        let ana = try await auth.mint(claims: ["sub": "ana", "tenant_id": "t1"], expiresIn: 3600, now: clock.wallTime)
        let expired = try await auth.mint(claims: ["sub": "ana", "tenant_id": "t1"], expiresIn: 60, now: clock.wallTime - 7200)
        let bob = try await auth.mint(claims: ["sub": "bob", "tenant_id": "t1"], expiresIn: 3600, now: clock.wallTime)

        await tap.opened(Self.connection(1, token: ana))
        clock.advance(by: .seconds(30))
        await tap.frame(connection: 1, fromClient: true, .text(#"{"type":"ping"}"#))
        await tap.frame(connection: 1, fromClient: false, .text(#"{"type":"pong"}"#))
        clock.advance(by: .seconds(10))
        await tap.frame(connection: 1, fromClient: false, .close(code: 1001, reason: "ping timeout"))  // the server closes first
        await tap.frame(connection: 1, fromClient: true, .close(code: 1001, reason: ""))
        await tap.closed(connection: 1, code: 1001, reason: "ping timeout")
        clock.advance(by: .seconds(1))
        await tap.refused(
            TappedRefusal(
                path: "/api/v1/ws", query: "token=\(expired)", headers: [], peer: "127.0.0.1:50009", profile: "jobs-live-tail", status: 401, body: [],
                responseHeaders: []))
        clock.advance(by: .seconds(2))
        await tap.opened(Self.connection(2, token: ana))
        clock.advance(by: .seconds(1))
        await tap.frame(connection: 2, fromClient: true, .close(code: 1000, reason: "bye"))  // the client leaves: no reconnect expected
        await tap.closed(connection: 2, code: 1000, reason: "")
        await tap.opened(Self.connection(3, token: bob))
        clock.advance(by: .seconds(5))
        await tap.closed(connection: 3, code: nil, reason: nil)  // lost: no close frame either way
        clock.advance(by: .seconds(50))

        let report = tap.report()
        #expect(report.duration == 99)
        #expect(report.clients.map(\.client) == ["t1/ana", "t1/bob"])
        let anaRules = Dictionary(uniqueKeysWithValues: report.clients[0].rules.map { ($0.rule, $0) })
        #expect(report.clients[0].attempts == 3)
        #expect(anaRules["ping"]?.status == .pass)
        #expect(anaRules["reconnect"]?.status == .pass)
        #expect(anaRules["reconnect"]?.passes == 2)
        #expect(anaRules["reconnect"]?.evidence.first?.message == "attempt 1 came 1s after the server's close 1001 at t=40s (expected 1s, accepted 0.5s–1.5s)")
        let bobReconnect = try #require(report.clients[1].rules.first { $0.rule == "reconnect" })
        #expect(bobReconnect.status == .fail)
        #expect(bobReconnect.evidence.first?.message == "no attempt 1 within 1.5s of the lost connection at t=49s (expected after 1s)")
    }
}
