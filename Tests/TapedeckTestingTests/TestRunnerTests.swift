import Foundation
import Testing
import TapedeckScenario
import TapedeckTesting

/// The runner against an in-process simulator on port 0, on the manual clock: no test sleeps.
@Suite("Test runner")
struct TestRunnerTests {
    /// The timeline starts with the server (`start: immediately`), not at a client's first message: the
    /// job's events are then asleep on the manual clock before any step lets time pass, whatever the load.
    static let jobs = """
        scenario: jobs
        profile: jobs-live-tail
        seed: 3
        settings: { ping_timeout: 60 }
        start: immediately
        entities:
          jobs: { job-1: { tenant_id: t1 } }
        streams:
          - name: run
            at: 500ms
            # A job of 100 lines in two steps, then its completion.
            vars: { total_lines: 100 }
            progress:
              duration: 1s
              steps: 2
              event: { type: job_progress, tenant_id: t1, payload: { job_id: job-1, progress_pct: "{{ progress.percent }}" } }
              final: { type: job_complete, tenant_id: t1, payload: { job_id: job-1, status: complete } }
        tests:

        """

    func run(_ tests: String, file: String = "suite.yaml") async throws -> FileResult {
        let scenario = try ScenarioLoader().load(text: Self.jobs + tests, file: file)
        return await TestRunner(configuration: .init()).run(scenario: scenario)
    }

    @Test func aSixtySecondPingTimeoutIsCheckedOnScenarioTime() async throws {
        let file = try await run("""
              - name: timeout
                connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                steps:
                  - send: { type: ping }
                  - expect: { type: pong }
                  - wait: 50s
                  - expect_close: 1001
                    within: 15s
            """)
        let result = try #require(file.results.first)
        #expect(result.passed, "\(result.failure?.description ?? "")")
        #expect(result.scenarioSeconds >= 60)
        #expect(result.scenarioSeconds < 66)
    }

    @Test func aConnectionThatPingsIsNotClosed() async throws {
        let file = try await run("""
              - name: open
                connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                steps:
                  - wait: 40s
                  - send: { type: ping }
                  - expect: { type: pong }
                  - expect_close:
                    within: 50s
            """)
        let failure = try #require(file.results.first?.failure)
        #expect(failure.step == "expect_close")
        #expect(failure.message == "the connection is still open after 50s")
        #expect(failure.location.line == 25)
    }

    @Test func aBrokenExpectationNamesItsLineAndWhatArrived() async throws {
        let file = try await run("""
              - name: progress
                connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                steps:
                  - send: { type: subscribe_job_progress, payload: { job_id: job-1 } }
                  - expect: { type: job_progress, payload: { job_id: job-1, progress_pct: 75 } }
                    within: 2s
            """, file: "scenarios/broken.yaml")
        let failure = try #require(file.results.first?.failure)
        #expect(failure.location.file == "scenarios/broken.yaml")
        #expect(failure.location.line == 23)
        #expect(failure.message == "no message matching the pattern within 2s")
        let details = failure.details.joined(separator: "\n")
        #expect(details.contains(#"arrived:  {"type":"job_progress","payload":{"job_id":"job-1","progress_pct":0}}"#))
        #expect(details.contains("$.payload.progress_pct: expected 75, found 0"))
    }

    @Test func refusedUpgradesAreCheckedWithTheirBody() async throws {
        let file = try await run("""
              - name: refused
                steps:
                  - connect: { path: /api/v1/ws }
                  - expect_status: 401
                  - connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                  - expect_status: 401
            """)
        let failure = try #require(file.results.first?.failure)
        #expect(failure.location.line == 24)
        #expect(failure.message == "the upgrade was answered 101, expected 401")
    }

    @Test func aStepOnARefusedConnectionSaysSo() async throws {
        let file = try await run("""
              - name: refused
                connect: { path: /api/v1/ws }
                steps:
                  - send: { type: ping }
            """)
        let failure = try #require(file.results.first?.failure)
        #expect(failure.message.hasPrefix("the upgrade was refused with 401"))
    }

    @Test func capturedValuesFeedLaterSteps() async throws {
        let file = try await run("""
              - name: capture
                connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                steps:
                  - send: { type: subscribe_job_progress, payload: { job_id: job-1 } }
                  - expect: { type: job_progress }
                    within: 2s
                    capture: { job: $.payload.job_id }
                  - send: { type: subscribe_job_progress, payload: { job_id: "{{ job + '-x' }}" } }
                  - expect: { type: error, payload: { details: { job_id: job-1-x } } }
                  - expect_none: { type: job_progress, payload: { job_id: { not: "{{ job }}" } } }
                    during: 3s
            """)
        let result = try #require(file.results.first)
        #expect(result.passed, "\(result.failure?.description ?? "")")
    }

    @Test func expectNoneFailsOnTheMessageThatArrived() async throws {
        let file = try await run("""
              - name: none
                connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                steps:
                  - send: { type: subscribe_job_progress, payload: { job_id: job-1 } }
                  - expect_none: { type: job_complete }
                    during: 10s
            """)
        let failure = try #require(file.results.first?.failure)
        #expect(failure.step == "expect_none")
        #expect(failure.details.contains { $0.hasPrefix(#"arrived: {"type":"job_complete""#) })
    }

    @Test func filterSkipAndTheSummary() async throws {
        let scenario = try ScenarioLoader().load(
            text: Self.jobs + """
                  - name: pong one
                    connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                    steps:
                      - send: { type: ping }
                      - expect: { type: pong }
                  - name: pong two
                    skip: not today
                    steps:
                      - wait: 1s
                  - name: other
                    steps:
                      - wait: 1s
                """, file: "s.yaml")
        let file = await TestRunner(configuration: .init(filter: "PONG")).run(scenario: scenario)
        #expect(file.results.map(\.name) == ["pong one", "pong two"])
        let report = TestReport(files: [file])
        #expect(report.summary == "1 passed, 0 failed, 1 skipped")
        #expect(report.exitCode == 0)
        let xml = report.junitXML()
        #expect(xml.contains(#"<testcase name="pong two" classname="jobs" file="s.yaml" line="24" time="0.000">"#))
        #expect(xml.contains(#"<skipped message="not today"/>"#))
    }

    @Test func httpStepsCheckStatusAndAnswerAndCapture() async throws {
        let file = try await run("""
              - name: http
                steps:
                  - http: { path: / }
                    response: { name: tapedeck, endpoints: { contains: { path: /api/v1/ws } } }
                    capture: { scenario: "$.scenarios[0]" }
                  - http: { path: /, query: { s: "{{ scenario }}" } }
                    response: { scenarios: ["{{ scenario }}"] }
                  - http: { path: /nowhere }
                    status: 404
                  - http: { path: / }
                    response: { name: other }
            """)
        let failure = try #require(file.results.first?.failure)
        #expect(failure.step == "http")
        #expect(failure.location.line == 28)
        #expect(failure.message == "the answer to GET / does not match")
        #expect(failure.details.contains(#"  $.name: expected "other", found "tapedeck""#))
    }

    @Test func aTestMarkedSkipTargetIsReportedAsSkippedAgainstATarget() async throws {
        let scenario = try ScenarioLoader().load(
            text: Self.jobs + """
                  - name: on the manual clock
                    skip_target: needs the in-process clock
                    steps:
                      - wait: 1s
                """, file: "s.yaml")
        // Nothing listens on port 1: the test must not even try to connect.
        let file = await TestRunner(configuration: .init(target: ("127.0.0.1", 1))).run(scenario: scenario)
        let result = try #require(file.results.first)
        guard case .skipped(let reason) = result.outcome else {
            Issue.record("expected a skip, got \(result.outcome)")
            return
        }
        #expect(reason == "not against --target: needs the in-process clock")
        // In-process, it runs.
        let inProcess = await TestRunner(configuration: .init()).run(scenario: scenario)
        #expect(inProcess.results.first?.passed == true)
    }

    @Test func aGoldenRecordingCatchesAChangedFieldAndNamesItsPath() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func scenario(progressMessage: String) throws -> Scenario {
            try ScenarioLoader().load(
                text: Self.jobs.replacingOccurrences(of: "progress_pct: \"{{ progress.percent }}\"", with: "progress_pct: \"{{ progress.percent }}\", message: \(progressMessage)")
                    + """
                      - name: progress
                        connect: { path: /api/v1/ws, query: { token: "{{ token(sub: 'ana', tenant_id: 't1') }}" } }
                        steps:
                          - send: { type: subscribe_job_progress, payload: { job_id: job-1 } }
                          - expect: { type: job_complete }
                            within: 3s
                    """, file: "golden.yaml")
        }
        let golden = GoldenConfiguration(location: .directory(dir))
        let path = "\(dir)/jobs.sqlite"
        #expect(golden.path(for: try scenario(progressMessage: "a")) == path)

        let missing = await TestRunner(configuration: .init(golden: golden)).run(scenario: try scenario(progressMessage: "a"))
        #expect(missing.results.last?.failure?.message == "no golden recording at \(path); run with --update-golden to create it")

        var update = golden
        update.update = true
        let written = await TestRunner(configuration: .init(golden: update)).run(scenario: try scenario(progressMessage: "a"))
        #expect(written.results.map(\.name) == ["progress", "golden recording written to \(path)"])
        #expect(written.results.allSatisfy { $0.passed })
        #expect(FileManager.default.fileExists(atPath: path))

        let same = await TestRunner(configuration: .init(golden: golden)).run(scenario: try scenario(progressMessage: "a"))
        #expect(same.results.allSatisfy { $0.passed }, "\(same.results.last?.failure?.description ?? "")")

        let changed = await TestRunner(configuration: .init(golden: golden)).run(scenario: try scenario(progressMessage: "b"))
        #expect(changed.results.first?.passed == true)
        let failure = try #require(changed.results.last?.failure)
        #expect(failure.step == "golden")
        #expect(failure.message.hasSuffix("from the golden recording \(path)"))
        #expect(failure.details.first == "connection /api/v1/ws #1 (test 'progress'):")
        #expect(failure.details.contains { $0.hasSuffix(#"(s2c job_progress) $.payload.message: changed "a" -> "b""#) })

        let ignored = await TestRunner(configuration: .init(golden: GoldenConfiguration(location: .directory(dir), ignore: ["$.payload.message"])))
            .run(scenario: try scenario(progressMessage: "b"))
        #expect(ignored.results.allSatisfy { $0.passed })
    }
}
