import Foundation
import Testing
import TapedeckCore
import TapedeckServer

/// `POST /_tapedeck/timeline/seek` on the manual clock: forward skips the events between, back
/// starts the scenarios over from there.
@Suite("Timeline seek")
struct TimelineSeekTests {
    @Test(.timeLimit(.minutes(1))) func seekForwardSkipsAndSeekBackReplaysFromThere() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: ControlAPITests.scenario(every: "1s", count: 100), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let headers = try await ControlAPITests.bearer("qa", clock: clock)
            let (seqs, seen) = AsyncStream<Int>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    guard let n = m["data"]?["seq"]?.intValue else { continue }
                    seen.yield(n)
                    if n == 100 { break }
                }
                return true
            }
            var it = seqs.makeAsyncIterator()
            #expect(await it.next() == 1)
            // Event n is at scenario time n-1: a seek to 50 s skips 2...50 and sends 51 at once.
            let forward = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":50}"#)
            #expect(forward.status == 200, "\(forward.body)")
            #expect(forward.json?["scenario_time"]?.doubleValue == 50, "\(forward.body)")
            #expect(await it.next() == 51)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 52)
            #expect(try await http(port: port, "GET", "/_tapedeck/timeline").json?["scenario_time"]?.doubleValue == 51)
            // Back: the scenario starts over and skips to 5 s (events are generated again, the same).
            let back = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":"5s"}"#)
            #expect(back.json?["scenario_time"]?.doubleValue == 5, "\(back.body)")
            #expect(await it.next() == 6)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 7)
            // While paused: the time moves, nothing is sent until the resume.
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/pause")
            let paused = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":"1m30s"}"#).json
            #expect(paused?["scenario_time"]?.doubleValue == 90)
            #expect(paused?["paused"] == true)
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/resume")
            #expect(await it.next() == 91)
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/speed", body: #"{"speed":"max"}"#)
            var rest: [Int] = []
            while let n = await it.next() { rest.append(n) }
            #expect(rest == Array(92...100))
            _ = try await run
        }
    }

    /// A client of user `qa` that sends a ping (which starts the timeline) and yields each event's
    /// `data.seq` until the connection closes; its task ends with the run.
    static func seqClient(port: Int, clock: ManualClock) async throws -> (AsyncStream<Int>, Task<ClientRun<Bool>, any Error>) {
        let (seqs, seen) = AsyncStream<Int>.makeStream()
        let headers = try await ControlAPITests.bearer("qa", clock: clock)
        let run = Task {
            try await withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    if let n = m["data"]?["seq"]?.intValue { seen.yield(n) }
                }
                return true
            }
        }
        return (seqs, run)
    }

    /// A seek before the timeline starts says where it starts; a scheduled fault a seek jumps over
    /// is skipped, the next one comes at its time (between two events, so that the order is certain).
    @Test(.timeLimit(.minutes(1))) func aSeekBeforeTheStartAndOverAScheduledFault() async throws {
        let clock = ManualClock()
        let yaml = ControlAPITests.scenario(every: "1s", count: 100) + """

            faults:
              - { at: 20s, kind: close, code: 4001, reason: jumped over }
              - { at: 60.5s, kind: close, code: 4002, reason: reached }
            """
        try await withSimulator(scenario: yaml, speed: .factor(1), timeline: .shared, clock: clock) { port in
            let early = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":"30s"}"#)
            #expect(early.json?["scenario_time"]?.doubleValue == 30, "\(early.body)")
            let (seqs, run) = try await Self.seqClient(port: port, clock: clock)
            var it = seqs.makeAsyncIterator()
            // The timeline starts at 30 s: event 31 first, and the fault at 20 s never comes.
            #expect(await it.next() == 31)
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":59}"#)
            #expect(await it.next() == 60)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 61)
            // Half a second on, the fault's time (and not yet event 62's): it closes the connection.
            clock.advance(by: .milliseconds(500))
            #expect(await it.next() == nil)
            #expect(try await run.value.closeCode == 4002)
        }
    }

    /// A fault and an event due at the same scenario time: the fault is carried out first, on the
    /// shared timeline and on a connection's own one (they used to race, in two tasks).
    @Test(.timeLimit(.minutes(1)), arguments: [SimulatorConfiguration.TimelineMode.shared, .perConnection])
    func aFaultGoesBeforeAnEventAtTheSameTime(timeline: SimulatorConfiguration.TimelineMode) async throws {
        let clock = ManualClock()
        // Events 1, 2, 3, 4 at 0, 1, 2, 3 s; the fault at 2 s, the time of event 3.
        let yaml = ControlAPITests.scenario(every: "1s", count: 4) + """

            faults:
              - { at: 2s, kind: close, code: 4003, reason: at the same time as event 3 }
            """
        try await withSimulator(scenario: yaml, speed: .factor(1), timeline: timeline, clock: clock) { port in
            let (seqs, run) = try await Self.seqClient(port: port, clock: clock)
            var it = seqs.makeAsyncIterator()
            #expect(await it.next() == 1)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 2)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == nil, "event 3 was sent before the fault due at its time")
            #expect(try await run.value.closeCode == 4003)
        }
    }

    @Test(.timeLimit(.minutes(1))) func badSeeksAreRefusedAndPerConnectionTimelinesAnswer409() async throws {
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared) { port in
            for body in [#"{}"#, #"{"to":-1}"#, #"{"to":"soon"}"#, #"{"to":1e9}"#] {
                let r = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: body)
                #expect(r.status == 400, "\(body): \(r.body)")
                #expect(r.json?["error"] == "bad_request")
            }
            // Before the timeline starts, a seek says where it will start.
            let early = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":"2m"}"#)
            #expect(early.json?["scenario_time"]?.doubleValue == 120, "\(early.body)")
        }
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .perConnection) { port in
            let r = try await http(port: port, "POST", "/_tapedeck/timeline/seek", body: #"{"to":5}"#)
            #expect(r.status == 409)
            #expect(r.json?["error"] == "per_connection_timelines")
        }
    }
}
