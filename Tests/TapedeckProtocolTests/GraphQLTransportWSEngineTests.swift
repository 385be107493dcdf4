import Testing
import TapedeckCore
import TapedeckProtocol
import OrderedCollections

/// The graphql-transport-ws profile's timers, replies and per-subscription delivery, driven
/// through the engine without sockets, on a manual clock.
@Suite("graphql-transport-ws engine")
struct GraphQLTransportWSEngineTests {
    let profile: Profile

    init() throws { profile = try ProfileLoader().load("graphql-transport-ws") }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func engine(_ clock: ManualClock, settings: Value = .emptyObject) -> ConnectionEngine {
        ConnectionEngine(
            profile: profile, conn: ["id": 1, "subprotocol": "graphql-transport-ws", "state": [:]], entities: .emptyObject,
            settings: profile.settings.merging(settings), now: Self.seconds(clock.elapsed))
    }

    @Test func aLateConnectionInitClosesWith4408AtTheDeadline() {
        let clock = ManualClock()
        var e = engine(clock)
        #expect(e.start(wallTime: clock.wallTime).isEmpty)
        // The connection_init timer (3 s by default) is the engine's next deadline: what the server sleeps until.
        #expect(e.nextTickTime == 3)
        clock.advance(by: .milliseconds(2999))
        #expect(e.tick(now: Self.seconds(clock.elapsed), wallTime: clock.wallTime).isEmpty)
        clock.advance(by: .milliseconds(1))
        #expect(e.tick(now: Self.seconds(clock.elapsed), wallTime: clock.wallTime) == [.close(code: 4408, reason: "Connection initialisation timeout")])
        #expect(e.nextTickTime == nil)
    }

    @Test func connectionInitInTimeCancelsTheTimerAndIsAcknowledged() {
        let clock = ManualClock()
        var e = engine(clock, settings: ["connection_init_timeout": "500ms", "ack_payload": ["server": "t"]])
        _ = e.start(wallTime: clock.wallTime)
        #expect(e.nextTickTime == 0.5)
        clock.advance(by: .milliseconds(400))
        let out = e.receive(.message(["type": "connection_init"], raw: ""), now: Self.seconds(clock.elapsed), wallTime: clock.wallTime)
        #expect(out == [.send(["type": "connection_ack", "payload": ["server": "t"]])])
        #expect(e.nextTickTime == nil)
        clock.advance(by: .seconds(10))
        #expect(e.tick(now: Self.seconds(clock.elapsed), wallTime: clock.wallTime).isEmpty)
    }

    @Test func keepAlivePingsRepeatFromTheSettings() {
        let clock = ManualClock()
        var e = engine(clock, settings: ["keep_alive": 2])
        _ = e.start(wallTime: clock.wallTime)
        _ = e.receive(.message(["type": "connection_init"], raw: ""), now: 0, wallTime: clock.wallTime)
        #expect(e.nextTickTime == 2)
        #expect(e.tick(now: 2, wallTime: clock.wallTime) == [.send(["type": "ping"])])
        #expect(e.nextTickTime == 4)
        #expect(e.tick(now: 4, wallTime: clock.wallTime) == [.send(["type": "ping"])])
    }

    @Test func aQueryIsAnsweredWithNextThenComplete() {
        let clock = ManualClock()
        var e = ConnectionEngine(
            profile: profile, conn: ["id": 1, "subprotocol": "graphql-transport-ws"], entities: ["schema": ["query": ["symbols": ["ACME"]]]],
            settings: profile.settings, now: 0)
        _ = e.start(wallTime: clock.wallTime)
        _ = e.receive(.message(["type": "connection_init"], raw: ""), now: 0, wallTime: clock.wallTime)
        let out = e.receive(.message(["id": "q", "type": "subscribe", "payload": ["query": "query Q { symbols }"]], raw: ""), now: 0, wallTime: clock.wallTime)
        #expect(out == [.send(["id": "q", "type": "next", "payload": ["data": ["symbols": ["ACME"]]]]), .send(["id": "q", "type": "complete"])])
    }

    @Test func oneEventGoesToEachSubscriptionUnderItsOwnIdAndAnEndEventCompletesThem() {
        var e = engine(ManualClock())
        _ = e.start(wallTime: 0)
        _ = e.receive(.message(["type": "connection_init"], raw: ""), now: 0, wallTime: 0)
        for (id, symbol) in [("a", "ACME"), ("b", nil), ("c", "GLOBEX")] as [(String, String?)] {
            var payload: Value = ["query": "subscription ($s: String) { price(symbol: $s) { price } }"]
            if let symbol { payload["variables"] = ["s": "x", "symbol": .string(symbol)] }
            _ = e.receive(.message(["id": .string(id), "type": "subscribe", "payload": payload], raw: ""), now: 0, wallTime: 0)
        }
        #expect(e.subscriptions.keys.elementsEqual(["a", "b", "c"]))
        let event: Value = ["field": "price", "args": ["symbol": "ACME"], "data": ["price": 1]]
        let (frames, log) = e.deliveries(event: event, topic: "price", wallTime: 0)
        #expect(log.isEmpty)
        #expect(frames.map(\.key) == ["a", "b"])
        #expect(frames.map(\.message) == [
            ["id": "a", "type": "next", "payload": ["data": ["price": ["price": 1]]]],
            ["id": "b", "type": "next", "payload": ["data": ["price": ["price": 1]]]],
        ])
        let end = e.deliveries(event: ["field": "price", "complete": true], topic: "price", wallTime: 0).deliveries
        #expect(end.map(\.message) == [["id": "a", "type": "complete"], ["id": "b", "type": "complete"], ["id": "c", "type": "complete"]])
        #expect(end.allSatisfy { $0.ends })
        #expect(e.subscriptions.isEmpty)
    }

    @Test func protocolViolationsCloseWithTheirCodes() {
        func closeCode(_ messages: [Value]) -> Int? {
            var e = engine(ManualClock())
            _ = e.start(wallTime: 0)
            for m in messages {
                for a in e.receive(.message(m, raw: ""), now: 0, wallTime: 0) { if case .close(let code, _) = a { return code } }
            }
            return nil
        }
        let sub: Value = ["id": "1", "type": "subscribe", "payload": ["query": "subscription { price { price } }"]]
        #expect(closeCode([sub]) == 4401)
        #expect(closeCode([["type": "connection_init"], sub, sub]) == 4409)
        #expect(closeCode([["type": "connection_init"], ["type": "connection_init"]]) == 4429)
        #expect(closeCode([["type": "connection_init"], ["type": "subscribe", "payload": [:]]]) == 4400)
        #expect(closeCode([["type": "bogus"]]) == 4400)
        #expect(closeCode([["type": "connection_init"], sub]) == nil)
    }
}
