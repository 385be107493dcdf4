import Testing
import TapedeckCore
import TapedeckProtocol

/// The workitems-protobuf profile's rules on decoded messages (proto3 JSON mapping), without sockets.
@Suite("workitems-protobuf rules")
struct WorkitemsEngineTests {
    let profile: Profile
    let entities: Value = [
        "projects": ["project-1": ["tenant": "acme"], "project-2": ["tenant": "acme"], "project-9": ["tenant": "globex"]],
        "sprints": ["sprint-5": ["tenant": "acme"]],
        "work_items": ["task-90": ["tenant": "globex"]],
    ]

    init() throws { profile = try ProfileLoader().load("workitems-protobuf") }

    func engine(tenant: String = "acme", user: String = "u1", limiter: SharedRateLimiter? = nil) -> ConnectionEngine {
        ConnectionEngine(profile: profile, conn: ["tenant": .string(tenant), "user": .string(user)], entities: entities, settings: [:], now: 0, sharedLimiter: limiter)
    }

    func reply(_ e: inout ConnectionEngine, _ msg: Value, at now: Double = 0) -> Value? {
        guard case .send(let v)? = e.receive(.message(msg, raw: ""), now: now, wallTime: 1_737_109_800).first else { return nil }
        return v
    }

    func event(project: String, sprint: String? = nil) -> Value {
        ["scope": ["project": .string(project), "sprint": sprint.map(Value.string) ?? .null], "payload": ["userTyping": ["userId": "x"]]]
    }

    @Test func subscribeIsConfirmedAndEventsMustRelate() {
        var e = engine()
        let confirmed = reply(&e, ["messageId": "m1", "subscribe": ["projectIds": ["project-1"], "sprintIds": ["sprint-5"]]])
        #expect(confirmed?["subscriptionConfirmed"] == ["subscribedProjectIds": ["project-1"], "subscribedSprintIds": ["sprint-5"], "subscribedWorkItemIds": []])
        #expect(e.accepts(event: event(project: "project-1"), topic: nil))
        #expect(e.accepts(event: event(project: "project-2", sprint: "sprint-5"), topic: nil))
        #expect(!e.accepts(event: event(project: "project-2"), topic: nil))
        _ = reply(&e, ["unsubscribe": ["projectIds": ["project-1"]]])
        #expect(!e.accepts(event: event(project: "project-1"), topic: nil))
    }

    @Test func anEventScopedOnlyBySprintOrWorkItemTakesThatEntitysTenant() {
        var e = engine()
        _ = reply(&e, ["subscribe": ["sprintIds": ["sprint-5"]]])
        let sprintOnly: Value = ["scope": ["sprint": "sprint-5"], "payload": ["sprintUpdated": ["sprintId": "sprint-5"]]]
        #expect(e.accepts(event: sprintOnly, topic: nil))
        var acme = ConnectionEngine(
            profile: profile, conn: ["tenant": "acme", "user": "u1"],
            entities: ["work_items": ["task-1": ["tenant": "acme"]], "projects": [:], "sprints": [:]], settings: [:], now: 0)
        _ = reply(&acme, ["subscribe": ["workItemIds": ["task-1"]]])
        let itemOnly: Value = ["scope": ["work_item": "task-1"], "payload": ["userTyping": ["userId": "x"]]]
        #expect(acme.accepts(event: itemOnly, topic: nil))
        // Another tenant's subscriber of the same id still gets nothing.
        var globex = engine(tenant: "globex")
        _ = reply(&globex, ["subscribe": ["sprintIds": ["sprint-5"]]])
        #expect(!globex.accepts(event: sprintOnly, topic: nil))
    }

    @Test func anEmptySubscribeSubscribesToNothing() {
        var e = engine()
        #expect(reply(&e, ["subscribe": [:]])?["subscriptionConfirmed"] != nil)
        #expect(!e.accepts(event: event(project: "project-1"), topic: nil))
    }

    @Test func otherTenantsResourcesAreRefusedAndTheirEventsNeverArrive() {
        var e = engine()
        let refused = reply(&e, ["messageId": "evil", "subscribe": ["projectIds": ["project-9"]]])
        #expect(refused?["error"]?["errorCode"] == "AUTHORIZATION_FAILED")
        #expect(refused?["error"]?["requestMessageId"] == "evil")
        #expect(reply(&e, ["subscribe": ["workItemIds": ["task-nope"]]])?["error"]?["errorCode"] == "NOT_FOUND")
        // Even an event that claims a subscribed project is filtered when it belongs to another tenant.
        _ = reply(&e, ["subscribe": ["projectIds": ["project-1"]]])
        var foreign = event(project: "project-1")
        foreign["scope"]?["tenant"] = "globex"
        #expect(!e.accepts(event: foreign, topic: nil))
    }

    @Test func pingIsAnsweredWithTheClientTimestamp() {
        var e = engine()
        let pong = reply(&e, ["messageId": "p", "ping": ["timestamp": "1234567890"]])
        #expect(pong?["pong"]?["clientTimestamp"] == "1234567890")
        #expect(pong?["pong"]?["timestamp"] == .int(1_737_109_800_000))
    }

    @Test func perUserLimitCountsAcrossConnections() {
        let limiter = SharedRateLimiter()
        var a = engine(limiter: limiter), b = engine(limiter: limiter)
        var other = engine(user: "u2", limiter: limiter)
        for i in 0..<50 {
            #expect(reply(&a, ["ping": [:]], at: Double(i) * 0.01)?["pong"] != nil)
            #expect(reply(&b, ["ping": [:]], at: Double(i) * 0.01)?["pong"] != nil)
        }
        #expect(reply(&a, ["messageId": "m101", "ping": [:]], at: 1)?["error"]?["errorCode"] == "RATE_LIMIT_EXCEEDED")
        #expect(reply(&other, ["ping": [:]], at: 1)?["pong"] != nil)
    }

    @Test func perTenantLimitCountsEveryUser() {
        let limiter = SharedRateLimiter()
        for u in 0..<10 {
            var e = engine(user: "u\(u)", limiter: limiter)
            for i in 0..<100 { _ = reply(&e, ["ping": [:]], at: Double(i) * 0.001) }
        }
        var late = engine(user: "late", limiter: limiter)
        #expect(reply(&late, ["ping": [:]], at: 1)?["error"]?["errorMessage"] == "Too many messages: at most 1000 per minute per tenant")
    }

    @Test func undecodableFramesGetAValidationError() {
        var e = engine()
        guard case .send(let v)? = e.receive(.undecodable(error: "truncated varint at byte 3", raw: "0a"), now: 0, wallTime: 0).first else {
            Issue.record("expected a reply")
            return
        }
        #expect(v["error"]?["errorCode"] == "VALIDATION_ERROR")
        #expect(v["error"]?["errorMessage"] == "Invalid frame: truncated varint at byte 3")
    }
}
