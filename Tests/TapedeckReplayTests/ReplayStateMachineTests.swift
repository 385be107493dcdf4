import TapedeckCore
import TapedeckRecording
import TapedeckDiff
import Testing
@testable import TapedeckReplay

/// Builds recorded frames for one connection: `at` is in milliseconds of the recording.
struct Tape {
    var frames: [RecordedFrame] = []

    mutating func server(_ text: String, at ms: Int64, fin: Bool = true, opcode: FrameOpcode = .text) {
        add(.serverToClient, opcode, Array(text.utf8), ms, fin)
    }

    mutating func client(_ text: String, at ms: Int64, fin: Bool = true, opcode: FrameOpcode = .text) {
        add(.clientToServer, opcode, Array(text.utf8), ms, fin)
    }

    mutating func add(_ d: FrameDirection, _ op: FrameOpcode, _ payload: [UInt8], _ ms: Int64, _ fin: Bool = true) {
        frames.append(
            RecordedFrame(
                connection: ConnectionID(rawValue: 1), direction: d, opcode: op, fin: fin, payload: payload,
                timestamp: FrameTimestamp(offsetNanos: ms * 1_000_000, wallNanos: 0),
                decoded: RecordingConfiguration.jsonTextDecoder(op, payload)))
    }

    func script(side: FrameDirection = .serverToClient) -> ReplayScript {
        ReplayScript(
            id: ConnectionID(rawValue: 1), info: ConnectionInfo(path: "/ws", openedAt: FrameTimestamp(offsetNanos: 0, wallNanos: 0)),
            frames: frames, side: side)
    }
}

func close(_ code: Int, _ reason: String = "") -> [UInt8] { [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8) }

func message(_ text: String) -> ScriptMessage { ScriptMessage(opcode: .text, payload: Array(text.utf8)) }

extension [ReplayAction] {
    var sentTexts: [String] {
        compactMap { if case .send(let f) = $0 { String(decoding: f.payload, as: UTF8.self) } else { nil } }
    }
    var wait: Duration?? {
        for a in self { if case .wait(let d) = a { return .some(d) } }
        return .none
    }
    var outcome: ReplayOutcome? {
        for a in self { if case .finish(let o) = a { return o } }
        return nil
    }
    var mismatch: ReplayDifference? {
        for a in self { if case .report(.mismatch(_, _, _, let d)) = a { return d } }
        return nil
    }
}

@Suite("ReplayStateMachine")
struct ReplayStateMachineTests {
    let matcher = DiffRulesMatcher(rules: DiffRules(ignoredPaths: ["$..timestamp"]))

    @Test("server frames go out at the recorded gaps, scaled by the speed")
    func timing() throws {
        var tape = Tape()
        tape.server(#"{"n":1}"#, at: 0)
        tape.server(#"{"n":2}"#, at: 1000)
        tape.server(#"{"n":3}"#, at: 3000)
        let clock = ManualClock()
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(speed: .factor(2)), matcher: matcher)
        var a = m.start(now: clock.elapsed)
        #expect(a.sentTexts == [#"{"n":1}"#])
        #expect(a.wait == .some(.milliseconds(500)))
        clock.advance(by: .milliseconds(499))
        #expect(m.deadlineReached(now: clock.elapsed).sentTexts.isEmpty)
        clock.advance(by: .milliseconds(1))
        a = m.deadlineReached(now: clock.elapsed)
        #expect(a.sentTexts == [#"{"n":2}"#])
        #expect(a.wait == .some(.milliseconds(1500)))
        clock.advance(by: .seconds(1))
        a = m.deadlineReached(now: clock.elapsed)
        #expect(a.sentTexts == [#"{"n":3}"#])
        #expect(a.outcome == .completed)
    }

    @Test("speed max sends everything at once")
    func maxSpeed() {
        var tape = Tape()
        tape.server("a", at: 0)
        tape.server("b", at: 60_000)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(speed: .max), matcher: matcher)
        let a = m.start(now: .zero)
        #expect(a.sentTexts == ["a", "b"])
        #expect(a.outcome == .completed)
    }

    @Test("reactive: waits for the client's matching message, then keeps the recorded gap from its arrival")
    func reactiveWaits() {
        var tape = Tape()
        tape.server(#"{"type":"hello"}"#, at: 0)
        tape.client(#"{"type":"subscribe","topic":"jobs","timestamp":"2026-01-01T00:00:00Z"}"#, at: 100)
        tape.server(#"{"type":"subscribed"}"#, at: 300)
        let clock = ManualClock()
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(), matcher: matcher)
        var a = m.start(now: clock.elapsed)
        #expect(a.sentTexts == [#"{"type":"hello"}"#])
        #expect(a.wait == .some(nil))
        clock.advance(by: .seconds(30))
        a = m.received(message(#"{"topic":"jobs","type":"subscribe","timestamp":"2026-11-29T10:00:00Z"}"#), now: clock.elapsed)
        #expect(a.sentTexts.isEmpty)
        #expect(a.wait == .some(.seconds(30) + .milliseconds(200)))
        clock.advance(by: .milliseconds(200))
        a = m.deadlineReached(now: clock.elapsed)
        #expect(a.sentTexts == [#"{"type":"subscribed"}"#])
        #expect(a.outcome == .completed)
    }

    @Test("reactive: a mismatch reports the JSON path of the first difference and keeps waiting")
    func mismatchWaits() throws {
        var tape = Tape()
        tape.client(#"{"type":"subscribe","payload":{"job_id":"job-1"}}"#, at: 10)
        tape.server(#"{"type":"ok"}"#, at: 20)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(), matcher: matcher)
        _ = m.start(now: .zero)
        var a = m.received(message(#"{"type":"subscribe","payload":{"job_id":"job-2"}}"#), now: .seconds(1))
        let d = try #require(a.mismatch)
        #expect(d.path == "$.payload.job_id")
        #expect(d.expected == #""job-1""# && d.actual == #""job-2""#)
        #expect(a.sentTexts.isEmpty)
        #expect(a.wait == .some(nil))
        a = m.received(message(#"{"type":"subscribe","payload":{"job_id":"job-1"}}"#), now: .seconds(2))
        #expect(a.wait == .some(.seconds(2) + .milliseconds(10)))
        #expect(m.deadlineReached(now: .seconds(2) + .milliseconds(10)).sentTexts == [#"{"type":"ok"}"#])
    }

    @Test("reactive: messages of one burst may arrive in another order")
    func burstOrder() {
        var tape = Tape()
        tape.client("subscribe", at: 0)
        tape.client("ping", at: 1)
        tape.server(#"{"type":"confirmed"}"#, at: 10)
        tape.server(#"{"type":"pong"}"#, at: 11)
        tape.client("more", at: 20)
        var m = ReplayStateMachine(
            script: tape.script(side: .clientToServer), configuration: ReplayConfiguration(speed: .max), matcher: matcher)
        #expect(m.start(now: .zero).sentTexts == ["subscribe", "ping"])
        var a = m.received(message(#"{"type":"pong"}"#), now: .zero)
        #expect(a.mismatch == nil && a.sentTexts.isEmpty)
        a = m.received(message(#"{"type":"confirmed"}"#), now: .zero)
        #expect(a.sentTexts == ["more"])
    }

    @Test("reactive with --on-mismatch close: closes with 1008")
    func mismatchCloses() {
        var tape = Tape()
        tape.client(#"{"action":"ping"}"#, at: 10)
        tape.server(#"{"action":"pong"}"#, at: 20)
        var m = ReplayStateMachine(
            script: tape.script(), configuration: ReplayConfiguration(onMismatch: .close), matcher: matcher)
        _ = m.start(now: .zero)
        let a = m.received(message(#"{"action":"pang"}"#), now: .seconds(1))
        #expect(a.mismatch?.path == "$.action")
        #expect(a.contains { if case .close(1008, _) = $0 { true } else { false } })
        if case .deviated = a.outcome {} else { Issue.record("expected a deviation, got \(String(describing: a.outcome))") }
        #expect(m.isFinished)
    }

    @Test("timed: client messages are reported, never awaited")
    func timed() {
        var tape = Tape()
        tape.client("hi", at: 10)
        tape.server("a", at: 20)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(mode: .timed), matcher: matcher)
        var a = m.start(now: .zero)
        #expect(a.wait == .some(.milliseconds(20)))
        a = m.received(message("something else"), now: .milliseconds(5))
        #expect(a.contains(.report(.received(message("something else")))))
        a = m.deadlineReached(now: .milliseconds(20))
        #expect(a.sentTexts == ["a"])
    }

    @Test("fragments go out as recorded; fragmented client messages are matched whole")
    func fragments() {
        var tape = Tape()
        tape.client("hel", at: 1, fin: false)
        tape.client("lo", at: 2, opcode: .continuation)
        tape.server("par", at: 3, fin: false)
        tape.server("t1", at: 3, fin: true, opcode: .continuation)
        let script = tape.script()
        #expect(script.peerMessageCount == 1 && script.ownFrameCount == 2)
        var m = ReplayStateMachine(script: script, configuration: ReplayConfiguration(speed: .max), matcher: matcher)
        _ = m.start(now: .zero)
        let a = m.received(message("hello"), now: .zero)
        let frames = a.compactMap { if case .send(let f) = $0 { f } else { nil } }
        #expect(frames.map(\.fin) == [false, true])
        #expect(frames.map(\.opcode) == [.text, .continuation])
    }

    @Test("the client's recorded close is awaited, then the recorded server close answers it")
    func closeHandshake() {
        var tape = Tape()
        tape.server("bye soon", at: 0)
        tape.add(.clientToServer, .close, close(4001, "done"), 5000)
        tape.add(.serverToClient, .close, close(4001, "done"), 5001)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(), matcher: matcher)
        var a = m.start(now: .zero)
        #expect(a.wait == .some(nil))
        a = m.received(ScriptMessage(opcode: .close, payload: close(1000)), now: .seconds(1))
        let sent = a.compactMap { if case .send(let f) = $0 { f } else { nil } }
        #expect(sent == [ScriptFrame(opcode: .close, payload: close(4001, "done"))])
        #expect(a.outcome == .completed)
    }

    @Test("a client leaving early ends the replay; a live ping the recording lacks gets a pong")
    func earlyCloseAndPing() {
        var tape = Tape()
        tape.server("a", at: 0)
        tape.server("b", at: 10_000)
        tape.add(.serverToClient, .close, close(1000), 10_001)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(), matcher: matcher)
        _ = m.start(now: .zero)
        var a = m.received(ScriptMessage(opcode: .ping, payload: [1, 2]), now: .seconds(1))
        #expect(a.first == .sendPong([1, 2]))
        a = m.received(ScriptMessage(opcode: .close, payload: close(1001)), now: .seconds(2))
        #expect(a.contains(.report(.peerClosed(code: 1001, reason: "", early: true))))
        #expect(a.contains(.send(ScriptFrame(opcode: .close, payload: close(1000)))))
        #expect(a.outcome == .peerLeft)
    }

    @Test("as a client: an awaited server message that never comes times out as a deviation")
    func clientTimeout() {
        var tape = Tape()
        tape.client("subscribe", at: 0)
        tape.server("welcome", at: 10)
        tape.client("more", at: 20)
        let clock = ManualClock()
        var m = ReplayStateMachine(
            script: tape.script(side: .clientToServer), configuration: ReplayConfiguration(peerTimeout: .seconds(5)), matcher: matcher)
        var a = m.start(now: clock.elapsed)
        #expect(a.sentTexts == ["subscribe"])
        #expect(a.wait == .some(.seconds(5)))
        clock.advance(by: .seconds(5))
        a = m.deadlineReached(now: clock.elapsed)
        if case .deviated = a.outcome {} else { Issue.record("expected a deviation") }
    }

    @Test("stop closes with 1001")
    func stop() {
        var tape = Tape()
        tape.server("a", at: 0)
        tape.server("b", at: 10_000)
        var m = ReplayStateMachine(script: tape.script(), configuration: ReplayConfiguration(), matcher: matcher)
        _ = m.start(now: .zero)
        let a = m.stop()
        #expect(a.contains(.close(code: 1001, reason: "tapedeck replay stopped")))
        #expect(a.outcome == .stopped)
    }
}

@Suite("ConnectionAssigner and secrets")
struct AssignerTests {
    @Test("clients get the recorded connections of their path in order; then 'exhausted', or again with loop")
    func order() async throws {
        let a = try await ReplayFixtures.connections(paths: ["/a", "/b", "/a"])
        var assigner = try ConnectionAssigner(connections: a)
        guard case .connection(let c1) = assigner.assign(path: "/a"), case .connection(let c2) = assigner.assign(path: "/a") else {
            Issue.record("expected two connections")
            return
        }
        #expect(c1.id.rawValue == 1 && c2.id.rawValue == 3)
        guard case .exhausted(_, 2) = assigner.assign(path: "/a") else {
            Issue.record("expected exhausted")
            return
        }
        guard case .unknownPath = assigner.assign(path: "/c") else {
            Issue.record("expected unknown path")
            return
        }
        var looping = try ConnectionAssigner(connections: a, loop: true)
        for expected: Int64 in [1, 3, 1] {
            guard case .connection(let c) = looping.assign(path: "/a") else { return }
            #expect(c.id.rawValue == expected)
        }
        var pinned = try ConnectionAssigner(connections: a, pinned: ConnectionID(rawValue: 2))
        for _ in 0..<3 {
            guard case .connection(let c) = pinned.assign(path: "/b") else { return }
            #expect(c.id.rawValue == 2)
        }
        #expect(throws: ReplayError.self) { try ConnectionAssigner(connections: a, pinned: ConnectionID(rawValue: 9)) }
    }

    @Test("redacted headers, query parameters and cookies are filled in, or named in a clear error")
    func secrets() throws {
        let info = ConnectionInfo(
            path: "/ws", query: "token=[REDACTED]&room=a",
            requestHeaders: [HeaderField("Authorization", "Bearer [REDACTED]"), HeaderField("Cookie", "session=[REDACTED]; theme=dark")])
        let id = ConnectionID(rawValue: 1)
        do {
            _ = try ReplaySecrets().request(for: info, connection: id)
            Issue.record("expected a missing secret")
        } catch {
            #expect(error.description.contains("query parameter 'token'"))
            #expect(error.description.contains("--query 'token=VALUE'"))
        }
        do {
            _ = try ReplaySecrets(query: ["token=abc"]).request(for: info, connection: id)
            Issue.record("expected a missing secret")
        } catch {
            #expect(error.description.contains("header 'Authorization'"))
        }
        let secrets = try ReplaySecrets(
            headers: ["Authorization: Bearer xyz"], query: ["token=a b"], environment: ["TAPEDECK_COOKIE_SESSION": "s3"])
        let (uri, headers) = try secrets.request(for: info, connection: id)
        #expect(uri == "/ws?token=a%20b&room=a")
        #expect(headers == [HeaderField("Authorization", "Bearer xyz"), HeaderField("Cookie", "session=s3; theme=dark")])
        #expect(!uri.contains("REDACTED") && !headers.contains { $0.value.contains("REDACTED") })
    }
}
