import Testing
import TapedeckCore
import TapedeckProtocol
import OrderedCollections

/// The jobs-live-tail profile's subscriptions, driven through the engine without sockets.
@Suite("jobs-live-tail rules")
struct JobsLiveTailEngineTests {
    let profile: Profile

    init() throws { profile = try ProfileLoader().load("jobs-live-tail") }

    func entry(_ type: String) -> Value {
        ["type": "live_tail_entry", "tenant_id": "acme", "payload": ["job_id": "job-1", "entry": ["log_type": .string(type)]]]
    }

    @Test func subscribingAgainReplacesTheFiltersAndCountsOnce() throws {
        let conn: Value = ["user": "u", "tenant": "acme", "claims": [:]]
        let entities: Value = ["jobs": ["job-1": ["tenant_id": "acme"]]]
        var e = ConnectionEngine(profile: profile, conn: conn, entities: entities, settings: [:], now: 0)
        _ = e.start(wallTime: 0)
        let api = #"{"type":"subscribe_live_tail","payload":{"job_id":"job-1","filters":{"log_types":["api"]}}}"#
        let sql = #"{"type":"subscribe_live_tail","payload":{"job_id":"job-1","filters":{"log_types":["sql"]}}}"#
        #expect(e.receive(.message(try Value(json: api), raw: api), now: 1, wallTime: 1) == [])
        #expect(e.accepts(event: entry("api"), topic: "live_tail"))
        #expect(!e.accepts(event: entry("sql"), topic: "live_tail"))
        #expect(e.receive(.message(try Value(json: sql), raw: sql), now: 2, wallTime: 2) == [])
        #expect(e.accepts(event: entry("sql"), topic: "live_tail"))
        #expect(!e.accepts(event: entry("api"), topic: "live_tail"))
        #expect(e.subscriptions.count == 1)
    }
}
