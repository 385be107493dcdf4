import Testing
import TapedeckCore
import TapedeckProtocol
import OrderedCollections

/// The ops-control-center profile's rules, driven through the engine without sockets.
@Suite("ops-control-center rules")
struct OpsControlCenterEngineTests {
    let profile: Profile

    init() throws { profile = try ProfileLoader().load("ops-control-center") }

    func engine(claims: Value = ["sub": "qa"]) -> ConnectionEngine {
        let conn: Value = [
            "user": claims["sub"] ?? "qa", "permissions": claims["permissions"] ?? ["*"],
            "squads": claims["squads"] ?? [], "environments": claims["environments"] ?? [], "claims": claims,
        ]
        var e = ConnectionEngine(profile: profile, conn: conn, entities: [:], settings: [:], now: 0)
        _ = e.start(wallTime: 1_737_109_800)
        return e
    }

    func send(_ e: inout ConnectionEngine, _ json: String, at now: Double = 1) -> [EngineAction] {
        let m: InboundMessage = (try? Value(json: json)).map { .message($0, raw: json) } ?? .undecodable(error: "bad json", raw: json)
        return e.receive(m, now: now, wallTime: 1_737_109_800 + now)
    }

    let platformIncident: Value = ["type": "incident", "action": "created", "data": ["id": "inc-1", "squad": "platform"]]
    let paymentsIncident: Value = ["type": "incident", "action": "created", "data": ["id": "inc-2", "squad": "payments"]]
    let prodAlert: Value = ["type": "alert", "action": "created", "data": ["id": "a-1", "environment": "production"]]
    let stagingAlert: Value = ["type": "alert", "action": "created", "data": ["id": "a-2", "environment": "staging"]]

    @Test func pingGetsPongWithATimestamp() {
        var e = engine()
        #expect(send(&e, #"{"action":"ping"}"#) == [.send(["action": "pong", "timestamp": "2025-01-17T10:30:01.000Z"])])
    }

    @Test func anInvalidSubscribeKeepsItsMessageID() {
        var e = engine()
        // Topics that are not strings fail inside the subscribe rule: still the message's id.
        for json in [#"{"action":"subscribe","topics":[1,2],"id":"m-3"}"#, #"{"action":"subscribe","topics":{"a":1},"message_id":"m-4"}"#] {
            let out = send(&e, json)
            guard case .send(let reply) = out.first else {
                Issue.record("no reply to \(json)")
                continue
            }
            #expect(reply["data"]?["code"] == "INVALID_MESSAGE")
            #expect(reply["data"]?["original_message_id"] == (json.contains("m-3") ? "m-3" : "m-4"))
        }
        // A frame that is not JSON has no id to keep.
        guard case .send(let reply) = send(&e, "not json").first else { Issue.record("no reply"); return }
        #expect(reply["data"]?["original_message_id"] == nil)
    }

    @Test func beforeSubscribingEverythingPermittedArrives() {
        let e = engine()
        #expect(e.accepts(event: platformIncident, topic: "incidents"))
        #expect(e.accepts(event: prodAlert, topic: "alerts"))
    }

    @Test func subscribeNarrowsToTopicsAndFilters() {
        var e = engine()
        #expect(send(&e, #"{"action":"subscribe","topics":["incidents"],"filters":{"squad":"platform"}}"#).isEmpty)
        #expect(e.accepts(event: platformIncident, topic: "incidents"))
        #expect(!e.accepts(event: paymentsIncident, topic: "incidents"))
        #expect(!e.accepts(event: prodAlert, topic: "alerts"))
    }

    @Test func filtersOnlyRestrictEventsThatCarryTheField() {
        var e = engine()
        _ = send(&e, #"{"action":"subscribe","topics":["incidents","alerts"],"filters":{"environment":"production","squad":"platform"}}"#)
        #expect(e.accepts(event: platformIncident, topic: "incidents"))  // no environment field
        #expect(e.accepts(event: prodAlert, topic: "alerts"))  // no squad field
        #expect(!e.accepts(event: stagingAlert, topic: "alerts"))
    }

    @Test func unsubscribeStopsATopic() {
        var e = engine()
        _ = send(&e, #"{"action":"subscribe","topics":["incidents","alerts"]}"#)
        _ = send(&e, #"{"action":"unsubscribe","topics":["incidents"]}"#)
        #expect(!e.accepts(event: platformIncident, topic: "incidents"))
        #expect(e.accepts(event: prodAlert, topic: "alerts"))
    }

    @Test func claimsLimitWhatAUserMaySee() {
        let e = engine(claims: ["sub": "bob", "squads": ["payments"], "permissions": ["incidents"]])
        #expect(e.accepts(event: paymentsIncident, topic: "incidents"))
        #expect(!e.accepts(event: platformIncident, topic: "incidents"))
        #expect(!e.accepts(event: prodAlert, topic: "alerts"))
    }

    @Test func malformedMessagesGetTheSpecsError() {
        var e = engine()
        let expected: EngineAction = .send([
            "type": "error", "action": "created", "data": ["code": "INVALID_MESSAGE", "message": "Message format is invalid"],
            "timestamp": "2025-01-17T10:30:01.000Z",
        ])
        #expect(send(&e, "not json") == [expected])
        #expect(send(&e, #"{"action":"dance"}"#) == [expected])
        #expect(send(&e, #"{"action":"subscribe","topics":"incidents"}"#).isEmpty)  // a single topic is accepted
        #expect(send(&e, #"{"action":"subscribe","topics":[1]}"#) == [expected])
        #expect(send(&e, #"{"action":"subscribe"}"#) == [expected])
        // The message's id is echoed as original_message_id.
        guard case .send(let v) = send(&e, #"{"id":"msg-123","action":"nope"}"#).first else {
            Issue.record("expected a reply")
            return
        }
        #expect(v["data"]?["original_message_id"] == "msg-123")
    }

    @Test func theHundredAndFirstMessageInAMinuteIsRefused() {
        var e = engine()
        for i in 0..<100 {
            #expect(send(&e, #"{"action":"ping"}"#, at: Double(i) * 0.1).first.map { if case .send(let v) = $0 { v["action"] == "pong" } else { false } } == true)
        }
        let refused = send(&e, #"{"action":"ping"}"#, at: 10.5)
        guard case .send(let v) = refused.first else {
            Issue.record("expected a refusal")
            return
        }
        #expect(v["type"] == "error")
        #expect(v["data"]?["code"] == "RATE_LIMITED")
        // Refused messages are not processed: a subscribe over the limit does not subscribe.
        _ = send(&e, #"{"action":"subscribe","topics":["alerts"]}"#, at: 11)
        #expect(!e.subscriptions.keys.contains("alerts"))
        // A minute after the first message, the window has room again.
        #expect(send(&e, #"{"action":"ping"}"#, at: 60.05).first.map { if case .send(let v) = $0 { v["action"] == "pong" } else { false } } == true)
    }

    // MARK: Delivery classes

    @Test func connectionsThatReadTheSameFieldsShareADeliveryKeyUntilOneSubscribes() {
        // Two users with the same permissions: their `user` and `claims` differ, but deliver_if and
        // the filter read only permissions, squads and environments.
        var a = engine(claims: ["sub": "ana", "permissions": ["incidents"]])
        let b = engine(claims: ["sub": "bo", "permissions": ["incidents"]])
        let c = engine(claims: ["sub": "cy", "permissions": ["alerts"]])
        #expect(a.deliveryKey != nil)
        #expect(a.deliveryKey == b.deliveryKey)
        #expect(a.deliveryKey != c.deliveryKey)
        let before = a.deliveryRevision
        _ = send(&a, #"{"action":"subscribe","topics":["incidents"],"filters":{"squad":"platform"}}"#)
        #expect(a.deliveryRevision != before)
        #expect(a.deliveryKey != b.deliveryKey)
        // Equal keys decide alike: the key is all the decision reads.
        #expect(a.accepts(event: platformIncident, topic: "incidents"))
        #expect(!a.accepts(event: paymentsIncident, topic: "incidents"))
        #expect(b.accepts(event: paymentsIncident, topic: "incidents"))
    }

    /// An engine of a minimal profile with this `deliver_if`, for the user `user`.
    func engine(deliverIf: String, user: Value) throws -> ConnectionEngine {
        let text = "profile: p\ncodec: json\nendpoints: [{ path: /ws }]\ndeliver_if: \"\(deliverIf)\"\n"
        let p = try ProfileLoader().load(text: text, file: "p.yaml")
        return ConnectionEngine(profile: p, conn: ["user": user], entities: [:], settings: [:], now: 0)
    }

    @Test func aPredicateThatCallsAContextDependentFunctionIsNeverShared() throws {
        #expect(try engine(deliverIf: "{{ rand.bool() }}", user: "a").deliveryKey == nil)
    }

    @Test func aPredicateThatReadsTheWholeIdentityKeysOnAllOfIt() throws {
        let whole = "{{ conn != null }}"
        let a = try engine(deliverIf: whole, user: "a")
        #expect(a.deliveryKey != nil)
        #expect(a.deliveryKey != (try engine(deliverIf: whole, user: "b")).deliveryKey)
        #expect(a.deliveryKey == (try engine(deliverIf: whole, user: "a")).deliveryKey)
    }
}
