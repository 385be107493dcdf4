import Foundation
import HTTPTypes
import HummingbirdWSClient
import NIOCore
import Testing
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario
@testable import TapedeckServer

/// The faults on events and on the socket, each on the wire with a real client and the manual
/// clock: delay and jitter, reorder, corrupt, bandwidth, a stall of reading, and a scenario's
/// `faults:` on per-connection timelines.
@Suite("Faults on the wire")
struct FaultInjectionTests {
    static func incident(_ id: String) -> String { #"{"event":{"type":"incident","action":"created","data":{"id":"\#(id)"}}}"# }

    /// Emits an incident with `id`; returns how many connections accepted it.
    static func emit(_ port: Int, _ id: String) async throws -> Int {
        try await http(port: port, "POST", "/_tapedeck/emit", body: incident(id)).json?["delivered_to"]?.arrayValue?.count ?? -1
    }

    static func fault(_ port: Int, _ body: String) async throws -> HTTPAnswer {
        let r = try await http(port: port, "POST", "/_tapedeck/faults", body: body)
        #expect(r.status == 200, "\(r.body)")
        return r
    }

    /// A client that pings, then reports each message: an incident's id, `pong`, or `corrupt:<text>`
    /// for a text message that is not JSON. It pings again on each `ping` it is told, and ends
    /// after the message `end`.
    static func client(
        port: Int, clock: ManualClock, user: String = "alice", got: AsyncStream<String>.Continuation, orders: AsyncStream<Void>
    ) async throws -> ClientRun<Bool> {
        try await withClient(port: port, path: "/api/ws", headers: try await ControlAPITests.bearer(user, clock: clock)) { client in
            defer { got.finish() }
            try await client.send(#"{"action":"ping"}"#)
            let outbound = client.outbound
            let pinger = Task {
                for await _ in orders { try? await outbound.write(.text(#"{"action":"ping"}"#)) }
            }
            defer { pinger.cancel() }
            while let t = try await client.nextText() {
                guard let v = try? Value(json: t) else {
                    got.yield("corrupt:" + t)
                    continue
                }
                if v["action"] == "pong" { got.yield("pong") }
                if let id = v["data"]?["id"]?.stringValue {
                    got.yield(id)
                    if id == "end" { break }
                }
            }
            return true
        }
    }

    /// A server on the manual clock with one ``client(port:clock:user:got:orders:)`` connected and
    /// its first ping answered; `body` gets the port, the clock, what the client reports, and a way
    /// to make it ping again. The client ends at the message `end`.
    static func withClientSession(
        _ body: @escaping @Sendable (Int, ManualClock, inout AsyncStream<String>.Iterator, AsyncStream<Void>.Continuation) async throws -> Void
    ) async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let (ids, got) = AsyncStream<String>.makeStream()
            let (orders, order) = AsyncStream<Void>.makeStream()
            async let run = Self.client(port: port, clock: clock, got: got, orders: orders)
            var it = ids.makeAsyncIterator()
            #expect(await it.next() == "pong")
            try await body(port, clock, &it, order)
            order.finish()
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func delayHoldsEventsOnTheClockInOrderWhileRepliesGoAtOnce() async throws {
        try await Self.withClientSession { port, clock, it, order in
            let r = try await Self.fault(port, #"{"kind":"delay","ms":200,"seconds":30}"#)
            #expect(r.json?["connections"]?.arrayValue?.count == 1)
            #expect(try await Self.emit(port, "d1") == 1)
            #expect(try await Self.emit(port, "d2") == 1)
            // Sent after the events: the reply overtakes them, they wait for the clock.
            order.yield()
            #expect(await it.next() == "pong")
            clock.advance(by: .milliseconds(199))
            order.yield()
            #expect(await it.next() == "pong")
            clock.advance(by: .milliseconds(1))
            #expect(await it.next() == "d1")
            #expect(await it.next() == "d2")
            // Jitter: 100 ± 50 ms, never before 50 ms, all by 150 ms, in order.
            _ = try await Self.fault(port, #"{"kind":"delay","ms":100,"jitter_ms":50,"seconds":30}"#)
            for i in 1...5 { #expect(try await Self.emit(port, "j\(i)") == 1) }
            clock.advance(by: .milliseconds(49))
            order.yield()
            #expect(await it.next() == "pong")
            clock.advance(by: .milliseconds(101))
            var jittered: [String] = []
            for _ in 1...5 { jittered.append(await it.next() ?? "") }
            #expect(jittered == ["j1", "j2", "j3", "j4", "j5"])
            // After its seconds, events go at once.
            clock.advance(by: .seconds(30))
            #expect(try await Self.emit(port, "end") == 1)
            #expect(await it.next() == "end")
        }
    }

    @Test(.timeLimit(.minutes(1))) func reorderSendsAHeldEventAfterTheNextOne() async throws {
        try await Self.withClientSession { port, clock, it, order in
            _ = try await Self.fault(port, #"{"kind":"reorder","percent":100,"seconds":5}"#)
            for i in 1...4 { #expect(try await Self.emit(port, "r\(i)") == 1) }
            clock.advance(by: .seconds(5))
            #expect(try await Self.emit(port, "end") == 1)
            var seen: [String] = []
            while let id = await it.next() { seen.append(id) }
            #expect(seen == ["r2", "r1", "r4", "r3", "end"])
        }
    }

    @Test(.timeLimit(.minutes(1))) func corruptSendsTextThatIsNoLongerJSON() async throws {
        try await Self.withClientSession { port, clock, it, order in
            let r = try await Self.fault(port, #"{"kind":"corrupt","count":2}"#)
            #expect(r.json?["count"] == 2)
            for id in ["c1", "c2", "end"] { #expect(try await Self.emit(port, id) == 1) }
            var seen: [String] = []
            while let id = await it.next() { seen.append(id) }
            #expect(seen.count == 3)
            #expect(seen.prefix(2).allSatisfy { $0.hasPrefix("corrupt:{") }, "\(seen)")
            #expect(seen.last == "end")
        }
    }

    @Test func corruptCutsATextInTheMiddleAndABinaryMessageInsideAField() throws {
        #expect(FrameCorruptor.cut(text: #"{"a":"é"}"#) == #"{"a":"#)
        #expect(FrameCorruptor.cut(text: #"{"a":"ééé"}"#) == #"{"a":""#, "not inside an é")
        #expect(FrameCorruptor.cut(text: "ééé").utf8.count == 2)
        // Fields: 1 varint 150, 2 bytes "hello world", 3 fixed32.
        let message: [UInt8] = [0x08, 0x96, 0x01, 0x12, 0x0B] + Array("hello world".utf8) + [0x1D, 1, 2, 3, 4]
        let cut = FrameCorruptor.cut(binary: message)
        // Inside field 2 (bytes 3 to 15): its key is there, its value is not whole.
        #expect(cut > 4 && cut < 16, "\(cut)")
        #expect(FrameCorruptor.cut(binary: [0x08, 0x01]) == 1)
    }

    @Test(.timeLimit(.minutes(1))) func bandwidthPacesWritesToTheRateOnTheClock() async throws {
        try await Self.withClientSession { port, clock, it, order in
            let before = try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?[0]?["bytes_sent"]?.intValue ?? 0
            _ = try await Self.fault(port, #"{"kind":"bandwidth","bytes_per_second":1000,"seconds":60}"#)
            for id in ["b1", "b2", "b3"] { #expect(try await Self.emit(port, id) == 1) }
            #expect(await it.next() == "b1")
            func connection() async throws -> Value? { try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?[0] }
            let first = (try await connection()?["bytes_sent"]?.intValue ?? 0) - before
            #expect(first > 2)
            #expect(try await connection()?["queue_depth"] == 2, "the others wait in the queue")
            // The first frame's bytes at 1000 B/s take `first` ms: not one less.
            clock.advance(by: .milliseconds(first - 1))
            #expect(try await connection()?["queue_depth"] == 2)
            clock.advance(by: .milliseconds(1))
            #expect(await it.next() == "b2")
            let second = (try await connection()?["bytes_sent"]?.intValue ?? 0) - before - first
            clock.advance(by: .milliseconds(second))
            #expect(await it.next() == "b3")
            clock.advance(by: .seconds(60))
            #expect(try await Self.emit(port, "end") == 1)
            #expect(await it.next() == "end")
        }
    }

    @Test(.timeLimit(.minutes(1))) func aReadStallLeavesAPingUnreadUntilItEnds() async throws {
        try await Self.withClientSession { port, clock, it, order in
            let r = try await Self.fault(port, #"{"kind":"stall","direction":"read","seconds":5}"#)
            #expect(r.json?["direction"] == "read")
            order.yield()
            // Writing goes on: an event comes, the ping's answer does not.
            #expect(try await Self.emit(port, "during") == 1)
            #expect(await it.next() == "during")
            let c = try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?[0]
            #expect(c?["read_stalled"] == true)
            #expect(c?["stalled"] == false)
            #expect(c?["messages_received"] == 1, "the second ping is not read yet")
            clock.advance(by: .seconds(5))
            #expect(await it.next() == "pong")
            #expect(try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?[0]?["messages_received"] == 2)
            #expect(try await Self.emit(port, "end") == 1)
            #expect(await it.next() == "end")
        }
    }

    /// On `--timeline per-connection`, each connection's timeline carries out the faults at its
    /// own scenario time, on that connection only.
    @Test(.timeLimit(.minutes(1))) func scenarioFaultsFireOnEachPerConnectionTimeline() async throws {
        let clock = ManualClock()
        let yaml = ControlAPITests.scenario() + """

            faults:
              - { at: 2s, kind: close, code: 4002, reason: per-connection }
            """
        try await withSimulator(scenario: yaml, speed: .factor(1), timeline: .perConnection, clock: clock) { port in
            func client(_ user: String, started: AsyncStream<Void>.Continuation) async throws -> ClientRun<Bool> {
                try await withClient(port: port, path: "/api/ws", headers: try await ControlAPITests.bearer(user, clock: clock)) { client in
                    defer { started.finish() }
                    try await client.send(#"{"action":"ping"}"#)
                    // The timeline's first event (at 0 s) says it runs.
                    _ = try await client.collect { $0["type"] == "metric" }
                    started.yield()
                    while try await client.next() != nil {}
                    return true
                }
            }
            let (aliceUp, aliceGo) = AsyncStream<Void>.makeStream()
            let (bobUp, bobGo) = AsyncStream<Void>.makeStream()
            async let alice = client("alice", started: aliceGo)
            for await _ in aliceUp { break }
            clock.advance(by: .seconds(1))
            async let bob = client("bob", started: bobGo)
            for await _ in bobUp { break }
            clock.advance(by: .seconds(1))
            let a = try await alice
            #expect(a.closeCode == 4002)
            #expect(try await http(port: port, "GET", "/_tapedeck/health").json?["connections"] == 1, "bob's timeline is at 1 s")
            clock.advance(by: .seconds(1))
            let b = try await bob
            #expect(b.closeCode == 4002)
        }
    }

    @Test(.timeLimit(.minutes(1))) func badFieldsOfTheNewKindsGetAClearError() async throws {
        try await withSimulator(scenario: ControlAPITests.scenario()) { port in
            for (body, words) in [
                (#"{"kind":"delay","seconds":5}"#, "'ms' is required"),
                (#"{"kind":"delay","ms":100,"jitter_ms":200,"seconds":5}"#, "'jitter_ms'"),
                (#"{"kind":"reorder","seconds":5}"#, "'percent' is required"),
                (#"{"kind":"corrupt","seconds":5}"#, "'count'"),
                (#"{"kind":"corrupt","count":0}"#, "'count'"),
                (#"{"kind":"bandwidth","seconds":5}"#, "'bytes_per_second' is required"),
                (#"{"kind":"bandwidth","bytes_per_second":0,"seconds":5}"#, "'bytes_per_second'"),
                (#"{"kind":"stall","direction":"sideways","seconds":5}"#, "write, read, both"),
                (#"{"kind":"explode"}"#, "delay, reorder, corrupt, bandwidth"),
            ] {
                let r = try await http(port: port, "POST", "/_tapedeck/faults", body: body)
                #expect(r.status == 400, "\(body)")
                #expect(r.json?["message"]?.stringValue?.contains(words) == true, "\(body): \(r.body)")
            }
        }
    }

    @Test func validateReportsBadFieldsOfTheNewKindsWithTheirPlace() throws {
        let bad = ControlAPITests.scenario() + """

            faults:
              - { at: 1s, kind: delay, seconds: 5s }
              - { at: 1s, kind: delay, ms: 100, jitter_ms: 150, seconds: 5s }
              - { at: 1s, kind: reorder, seconds: 5s }
              - { at: 1s, kind: corrupt }
              - { at: 1s, kind: bandwidth, seconds: 5s }
              - { at: 1s, kind: bandwidth, bytes_per_second: 0, seconds: 5s }
              - { at: 1s, kind: stall, direction: sideways, seconds: 5s }
              - { at: 1s, kind: close, ms: 5 }
              - { at: 1s, kind: delai, ms: 5, seconds: 1s }
            """
        do {
            _ = try ScenarioLoader().load(text: bad, file: "faults.yaml")
            Issue.record("the scenario loaded")
        } catch {
            let text = "\(error)"
            for expected in [
                "faults.yaml:11:5: a delay fault needs 'ms'",
                "faults.yaml:12:48: 'jitter_ms' must be",
                "faults.yaml:13:5: a reorder fault needs 'percent'",
                "faults.yaml:14:5: a corrupt fault needs 'percent' and 'seconds' (a share of events for a while, e.g. 10 and 30s) or 'count'",
                "faults.yaml:15:5: a bandwidth fault needs 'bytes_per_second'",
                "faults.yaml:16:50: 'bytes_per_second' must be",
                "faults.yaml:17:39: 'direction' must be one of write, read, both",
                "faults.yaml:18:32: 'ms' does not apply to a close fault",
                "faults.yaml:19:21: unknown fault kind 'delai': use one of close, reset, refuse_upgrades, stall, drop, duplicate, delay, reorder, corrupt, bandwidth; did you mean 'delay'?",
            ] {
                #expect(text.contains(expected), "\(expected)\n\(text)")
            }
        }
        let good = try ScenarioLoader().load(
            text: ControlAPITests.scenario() + """

                faults:
                  - { at: 1s, kind: delay, ms: 200, jitter_ms: 50, seconds: 30s }
                  - { at: 2s, kind: reorder, percent: 20, seconds: 30s }
                  - { at: 3s, kind: corrupt, count: 3 }
                  - { at: 4s, kind: bandwidth, bytes_per_second: 2048, seconds: 30s }
                  - { at: 5s, kind: stall, direction: both, seconds: 5s }
                """, file: "ok.yaml")
        #expect(good.faults.map { $0.spec["kind"]?.stringValue } == ["delay", "reorder", "corrupt", "bandwidth", "stall"])
        #expect(good.faults[0].spec["jitter_ms"]?.doubleValue == 50)
        #expect(good.faults[4].spec["direction"] == "both")
    }
}
