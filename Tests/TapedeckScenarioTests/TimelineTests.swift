import Foundation
import Testing
import TapedeckCore
import TapedeckScenario

@Suite("Timeline")
struct TimelineTests {
    func scenario(_ text: String) throws -> Scenario { try ScenarioLoader().load(text: text, file: "t.yaml") }

    let storm = """
        scenario: storm
        seed: 42
        vars: { squads: [platform, payments] }
        streams:
          - name: incidents
            every: 5s
            count: 4
            jitter: 1s
            event: { id: "inc-{{ seq() }}", squad: "{{ pick(vars.squads) }}", score: "{{ rand.int(1, 1000) }}" }
          - name: cpu
            every: 2s
            for: 9s
            event: { cpu: "{{ round(wave(0, 100, 8s)) }}", at: "{{ t }}" }
          - name: follow-up
            after: incidents
            at: 1s
            event: { done: true }
        """

    @Test func eventsAreMergedInTimeOrder() throws {
        let events = try Timeline(scenario: scenario(storm)).prefix(100)
        #expect(events.count == 4 + 5 + 1)
        #expect(events.map(\.time) == events.map(\.time).sorted())
        #expect(events.filter { $0.stream == "cpu" }.map(\.time) == [0, 2, 4, 6, 8])
        // `after` starts at the nominal end of incidents (15 s) plus `at`.
        #expect(events.last?.stream == "follow-up")
        #expect(events.last?.time == 16)
        // Jitter delays by less than its amount.
        for (i, e) in events.filter({ $0.stream == "incidents" }).enumerated() {
            #expect(e.time >= Double(i * 5) && e.time < Double(i * 5 + 1))
        }
    }

    @Test func sameSeedSameEventsDifferentSeedDifferentEvents() throws {
        let a = try Timeline(scenario: scenario(storm)).prefix(100)
        let b = try Timeline(scenario: scenario(storm)).prefix(100)
        #expect(a == b)
        let c = try Timeline(scenario: scenario(storm.replacingOccurrences(of: "seed: 42", with: "seed: 43"))).prefix(100)
        #expect(a.map(\.value) != c.map(\.value))
    }

    @Test func streamsAreIndependentOfEachOther() throws {
        // Adding a stream does not change the random values of another.
        let more = storm + "\n  - name: extra\n    every: 1s\n    count: 3\n    event: { r: \"{{ rand.int(1, 9) }}\" }\n"
        let a = try Timeline(scenario: scenario(storm)).prefix(100).filter { $0.stream == "incidents" }
        let b = try Timeline(scenario: scenario(more)).prefix(100).filter { $0.stream == "incidents" }
        #expect(a == b)
    }

    @Test func millionsOfEventsAreNotMaterialised() throws {
        let s = try scenario("""
            scenario: firehose
            streams:
              - name: logs
                rate: 100000/s
                count: 50000000
                event: { n: "{{ seq() }}" }
            """)
        var it = Timeline(scenario: s).makeIterator()
        var last: TimelineEvent?
        for _ in 0..<1000 { last = try it.next() }
        #expect(last?.value == ["n": 1000])
        #expect(last?.time == 999.0 / 100000)
    }

    @Test func rateAndUntil() throws {
        let s = try scenario("""
            scenario: r
            streams:
              - name: burst
                rate: 4/s
                until: 1s
                event: { n: "{{ seq() }}" }
            """)
        #expect(try Timeline(scenario: s).prefix(100).map(\.time) == [0, 0.25, 0.5, 0.75])
    }

    /// A `for:` stream emits at start + k * every for every k with start <= t < start + for: the
    /// boundary itself is never included, whatever the spacing.
    @Test(arguments: [
        ("every: 100ms", "1s", 10), ("every: 250ms", "1s", 4), ("every: 1s", "3s", 3), ("every: 300ms", "1s", 4),
        ("every: 1s", "1s", 1), ("every: 1s", "1500ms", 2), ("rate: 200/s", "30s", 6000), ("rate: 3/s", "1s", 3),
        ("rate: 7/s", "1s", 7), ("every: 10ms", "1m", 6000),
    ])
    func forExcludesItsEnd(spacing: String, length: String, events: Int) throws {
        let s = try scenario("""
            scenario: b
            streams:
              - name: s
                \(spacing)
                for: \(length)
                event: { n: "{{ seq() }}" }
            """)
        let times = try Timeline(scenario: s).prefix(100_000).map(\.time)
        #expect(times.count == events)
        let end = DurationText.seconds(length)!
        #expect(times.allSatisfy { $0 >= 0 && $0 < end })
    }

    @Test func tickTimesAreExactMultiplesOfTheSpacing() throws {
        let s = try scenario("""
            scenario: b
            streams:
              - name: s
                every: 100ms
                for: 100s
                event: { n: "{{ seq() }}" }
            """)
        let times = try Timeline(scenario: s).prefix(100_000).map(\.time)
        #expect(times.count == 1000)
        #expect(times[999] == 99.9)
        #expect(times[10] == 1)
        #expect(times[300] == 30)
    }

    @Test func loopRepeatsWithContinuingSequence() throws {
        let s = try scenario("""
            scenario: l
            loop: true
            streams:
              - name: a
                every: 1s
                count: 2
                event: { n: "{{ seq() }}", i: "{{ iteration }}" }
            """)
        let events = try Timeline(scenario: s).prefix(5)
        #expect(events.map(\.time) == [0, 1, 2, 3, 4])
        #expect(events.map(\.value) == [["n": 1, "i": 0], ["n": 2, "i": 0], ["n": 3, "i": 1], ["n": 4, "i": 1], ["n": 5, "i": 2]])
    }

    @Test func nowIsScenarioTimeFromTheEpoch() throws {
        let s = try scenario("""
            scenario: n
            start: 2025-01-17T10:00:00Z
            streams:
              - name: a
                every: 90s
                count: 2
                event: { at: "{{ now() }}" }
            """)
        #expect(try Timeline(scenario: s).prefix(2).map(\.value) == [["at": "2025-01-17T10:00:00.000Z"], ["at": "2025-01-17T10:01:30.000Z"]])
    }

    @Test func progressRunEmitsStepsThenTheFinalEvent() throws {
        let s = try scenario("""
            scenario: j
            streams:
              - name: analysis
                vars: { id: job-1, total: 1000 }
                progress:
                  duration: 10s
                  steps: 4
                  phases: [uploading, parsing]
                  event: { type: job_progress, id: "{{ vars.id }}", pct: "{{ progress.percent }}", lines: "{{ floor(vars.total * progress.fraction) }}", status: "{{ progress.phase }}", step: "{{ progress.step }}" }
                  final: { type: job_complete, status: done, lines: "{{ floor(vars.total * progress.fraction) }}", took: "{{ duration.dhms(progress.elapsed) }}", final: "{{ progress.final }}" }
            """)
        let e = try Timeline(scenario: s).prefix(10)
        #expect(e.map(\.time) == [0, 2.5, 5, 7.5, 10])
        #expect(e.map { $0.value["pct"] ?? .null }.prefix(4) == [0, 25, 50, 75])
        #expect(e.map { $0.value["step"] ?? .null }.prefix(4) == [1, 2, 3, 4])
        #expect(e[1].value["status"] == "uploading")
        #expect(e[3].value["status"] == "parsing")
        #expect(e[2].value["lines"] == 500)
        #expect(e[0].value["id"] == "job-1")
        #expect(e.last?.value == ["type": "job_complete", "status": "done", "lines": 1000, "took": "0d 0h 0m 10s", "final": true])
    }

    @Test func progressRunThatStopsEarlyEndsAtItsFraction() throws {
        let s = try scenario("""
            scenario: j
            streams:
              - name: analysis
                progress:
                  duration: 10s
                  steps: 10
                  stop_at: 0.5
                  event: { pct: "{{ progress.percent }}" }
                  final: { status: failed, lines: "{{ floor(100 * progress.fraction) }}", pct: "{{ progress.percent }}" }
            """)
        let e = try Timeline(scenario: s).prefix(100)
        #expect(e.count == 6)
        #expect(e.last?.value == ["status": "failed", "lines": 50, "pct": 50])
        #expect(e.last?.time == 5)
    }

    @Test func aProgressRunsFailingFieldIsReportedWhereItIsWritten() throws {
        let s = try scenario("""
            scenario: p
            streams:
              - name: run
                progress:
                  duration: 4s
                  steps: 2
                  event: { pct: "{{ progress.percent }}" }
                  final:
                    lines: "{{ 10 / (progress.step - 3) }}"
            """)
        var it = Timeline(scenario: s).makeIterator()
        #expect(try it.next()?.value == ["pct": 0])
        #expect(try it.next()?.value == ["pct": 50])
        #expect {
            try it.next()
        } throws: { error in
            let e = error as? ScenarioError
            return e?.location.line == 9 && e?.location.column == 17 && e?.message.contains("stream 'run', event 3, field 'lines'") == true
        }
        #expect(try it.next() == nil)
    }

    @Test func badProgressKeysAreReportedWithTheirLocation() {
        let text = """
            scenario: p
            streams:
              - name: run
                progress: { duration: 1s, steps: 0, stop_at: 1.5, event: {} }
            """
        do {
            _ = try ScenarioLoader().load(text: text, file: "p.yaml")
            Issue.record("expected errors")
        } catch {
            let d = error.errors.map { "\($0.location.line):\($0.location.column) \($0.message)" }
            #expect(d.contains { $0.hasPrefix("4:38 'steps' must be at least 1") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("4:50 'stop_at' must be a fraction") }, "\(d)")
            #expect(d.contains { $0.hasPrefix("4:15 'progress' needs 'final'") }, "\(d)")
        }
    }

    @Test func theOldJobKindIsRefusedWithTheWayToWriteIt() throws {
        let text = """
            scenario: j
            streams:
              - name: analysis
                job: { id: job-1, progress: {}, complete: {} }
            """
        #expect {
            try ScenarioLoader().load(text: text, file: "old.yaml")
        } throws: { error in
            let d = "\(error)"
            return d.contains("old.yaml:4:5") && d.contains("'job' is now 'progress'")
        }
    }

    @Test func aStreamsOwnVarsAreKnownToItsTemplatesOnly() throws {
        let text = """
            scenario: j
            vars: { shared: 1 }
            streams:
              - name: a
                vars: { mine: 2 }
                event: { v: "{{ vars.mine + vars.shared }}" }
              - name: b
                event: { v: "{{ vars.mine }}" }
            """
        // Stream b reads a var only stream a has: a warning at b's template, none at a's.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vars-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let problems = ScenarioLoader().validate(file: path)
        #expect(problems.map(\.location.line) == [8])
        #expect(problems.first?.message.contains("'vars.mine' is not defined") == true)
        let ok = try scenario(text.replacingOccurrences(of: "event: { v: \"{{ vars.mine }}\" }", with: "event: { v: \"{{ vars.shared }}\" }"))
        #expect(try Timeline(scenario: ok).prefix(2).map(\.value) == [["v": 3], ["v": 1]])
    }

    @Test func runtimeErrorsNameTheStreamAndGoOn() throws {
        let s = try scenario("""
            scenario: e
            streams:
              - name: risky
                every: 1s
                count: 3
                event: { v: "{{ 10 / (seq() - 2) }}" }
            """)
        var it = Timeline(scenario: s).makeIterator()
        #expect(try it.next()?.value == ["v": -10])
        #expect(throws: ScenarioError.self) { try it.next() }
        #expect(try it.next()?.value == ["v": 10])
        #expect(try it.next() == nil)
    }

    @Test func everyFailingFieldOfAnEventIsReportedAtTheFieldInOneRun() throws {
        let s = try scenario("""
            scenario: broken
            streams:
              - name: incidents
                every: 1s
                count: 3
                event:
                  id: "inc-{{ seq() }}"
                  data:
                    severity: "{{ weighted('a') }}"
                    tags: [ok, "{{ 1 / 0 }}"]
            """)
        var it = Timeline(scenario: s).makeIterator()
        #expect(throws: ScenarioError.self) { _ = try it.next() }
        let failures = it.lastFailures
        #expect(failures.count == 2)
        #expect(failures.map(\.location.line) == [9, 10])
        // The column of the field's `{{`.
        #expect(failures.first?.location.column == 20)
        #expect(failures.first?.message.hasPrefix("stream 'incidents', event 1, field 'data.severity': weighted()") == true)
        #expect(failures.last?.message == "stream 'incidents', event 1, field 'data.tags[1]': division by zero")
        // The rest of the event is there, for checks of what it carries.
        #expect(it.lastPartialEvent?.value == ["id": "inc-1", "data": ["severity": nil, "tags": ["ok", nil]]])
        // The stream goes on after a failed event.
        #expect(throws: ScenarioError.self) { _ = try it.next() }
        #expect(it.lastFailures.first?.message.hasPrefix("stream 'incidents', event 2, field 'data.severity'") == true)
    }
}
