import Foundation
import HTTPTypes
import OrderedCollections
import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckServer

/// jobs-live-tail end to end: the built-in profile over real sockets on 127.0.0.1.
@Suite("jobs-live-tail over WebSocket")
struct JobsLiveTailServerTests {
    /// Streams start at 300 ms so that subscriptions made on connect are in place (speed 1).
    static func scenario(settings: String = "{}") -> String {
        """
        scenario: jobs
        profile: jobs-live-tail
        seed: 3
        start: 2026-02-09T12:00:00Z
        settings: \(settings)
        entities:
          jobs:
            job-1: { tenant_id: t1 }
            job-failed: { tenant_id: t1 }
            job-t2: { tenant_id: t2 }
            j3: { tenant_id: t1 }
            j4: { tenant_id: t1 }
            j5: { tenant_id: t1 }
            j6: { tenant_id: t1 }
            j7: { tenant_id: t1 }
            j8: { tenant_id: t1 }
            j9: { tenant_id: t1 }
            j10: { tenant_id: t1 }
        streams:
          - name: run
            at: 300ms
            vars: { job_id: job-1, total_lines: 1000, log_start: "2026-02-01T00:00:00Z", log_end: "2026-02-08T23:59:59Z" }
            progress:
              duration: 600ms
              steps: 4
              phases: [parsing, analyzing]
              event:
                type: job_progress
                tenant_id: t1
                payload: { job_id: "{{ vars.job_id }}", status: "{{ progress.phase }}", progress_pct: "{{ progress.percent }}", processed_lines: "{{ floor(vars.total_lines * progress.fraction) }}", total_lines: "{{ vars.total_lines }}", message: Parsing log entries... }
              final:
                type: job_complete
                tenant_id: t1
                payload:
                  job_id: "{{ vars.job_id }}"
                  status: complete
                  api_count: 50
                  sql_count: 120
                  filter_count: 30
                  esc_count: 5
                  log_start: "{{ vars.log_start }}"
                  log_end: "{{ vars.log_end }}"
                  log_duration: "{{ duration.dhms(unix(vars.log_end) - unix(vars.log_start)) }}"
          - name: failing
            at: 300ms
            vars: { job_id: job-failed, total_lines: 1000 }
            progress:
              duration: 400ms
              steps: 4
              stop_at: 0.5
              phases: [parsing]
              event: { type: job_progress, tenant_id: t1, payload: { job_id: "{{ vars.job_id }}", status: "{{ progress.phase }}", progress_pct: "{{ progress.percent }}", processed_lines: "{{ floor(vars.total_lines * progress.fraction) }}", total_lines: "{{ vars.total_lines }}", message: Parsing } }
              final: { type: job_complete, tenant_id: t1, payload: { job_id: "{{ vars.job_id }}", status: failed, api_count: 0, sql_count: 0, filter_count: 0, esc_count: 0, log_start: null, log_end: null, log_duration: 0s } }
          - name: other-tenant
            at: 300ms
            every: 50ms
            count: 10
            event: { type: job_progress, tenant_id: t2, payload: { job_id: job-1, status: parsing, progress_pct: 1, processed_lines: 1, total_lines: 1, message: other tenant } }
          - name: tail
            at: 300ms
            every: 20ms
            count: 30
            event:
              type: live_tail_entry
              tenant_id: t1
              payload:
                job_id: job-1
                entry:
                  line_number: "{{ seq() }}"
                  timestamp: "{{ now() }}"
                  log_type: "{{ ['API', 'SQL', 'FLTR'][(seq() - 1) % 3] }}"
                  trace_id: "t{{ seq() }}"
                  rpc_id: "r{{ seq() }}"
                  queue: "{{ ['Fast', 'List'][floor((seq() - 1) / 3) % 2] }}"
                  user: "{{ ['Demo', 'Admin'][(seq() - 1) % 2] }}"
                  api_code: GE
                  form: "HPD:Help Desk"
                  duration_ms: "{{ seq() * 100 }}"
                  success: true
                  raw_text: "line {{ seq() }}"
        """
    }

    /// What the tail stream generates, to compute the expected result of each filter.
    struct Entry {
        var line: Int
        var logType: String { ["API", "SQL", "FLTR"][(line - 1) % 3] }
        var queue: String { ["Fast", "List"][((line - 1) / 3) % 2] }
        var user: String { ["Demo", "Admin"][(line - 1) % 2] }
        var duration: Int { line * 100 }
    }

    static func url(_ jwt: String) -> String { "/api/v1/ws?token=\(jwt)" }
    static func t1() async throws -> String { try await token(["sub": "ana", "tenant_id": "t1"]) }

    @Test func missingOrInvalidTokenGets401() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            #expect(try await rawUpgrade(port: port, path: "/api/v1/ws", headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/api/v1/ws?token=abc.def.ghi", headers: [:]).status == 401)
            let noTenant = try await token(["sub": "ana"])
            #expect(try await rawUpgrade(port: port, path: "/api/v1/ws?token=\(noTenant)", headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: Self.url(try await Self.t1()), headers: [:]).status == 101)
        }
    }

    @Test func jobProgressThenOneCompletionScopedToTheTenant() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: nil) { port async throws in
            let jwt = try await Self.t1()
            let run = try await withClient(port: port, path: Self.url(jwt)) { c in
                // The timeline starts at the first message: subscribe to job-1 with it, so that
                // its first progress event (t = 0) is not missed.
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"job-1"}}"#)
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"job-failed"}}"#)
                // Unknown jobs and another tenant's job are "not found".
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"nope"}}"#)
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"job-t2"}}"#)
                var completes = 0
                let rest = try await c.collect { v in
                    if v["type"] == "job_complete" { completes += 1 }
                    return completes == 2
                }
                try await c.close()
                return rest
            }
            let values = try #require(run.value)
            let errors = values.filter { $0["type"] == "error" }
            #expect(errors.count == 2)
            #expect(errors.map { $0["payload"]?["details"]?["job_id"] } == ["nope", "job-t2"])
            for e in errors {
                #expect(e["payload"]?["code"] == "subscription_failed")
                #expect(e["payload"]?["message"] == "Job not found")
            }
            let events = values.filter { $0["type"] != "error" }
            #expect(events.allSatisfy { $0["payload"]?["message"] != "other tenant" })
            let progress = events.filter { $0["type"] == "job_progress" && $0["payload"]?["job_id"] == "job-1" }
            #expect(progress.count == 4)
            for p in progress {
                #expect(p.objectValue.map { Array($0.keys) } == ["type", "payload"])
                #expect(p["payload"]?.objectValue.map { Array($0.keys) } == ["job_id", "status", "progress_pct", "processed_lines", "total_lines", "message"])
            }
            #expect(progress.map { $0["payload"]?["progress_pct"] } == [0, 25, 50, 75])
            let done = events.filter { $0["type"] == "job_complete" }
            #expect(done.count == 2)
            let ok = try #require(done.first { $0["payload"]?["job_id"] == "job-1" })
            #expect(ok["payload"]?["status"] == "complete")
            #expect(ok["payload"]?["log_duration"] == "7d 23h 59m 59s")
            #expect(ok["payload"]?["log_start"] == "2026-02-01T00:00:00Z")
            #expect(ok["payload"]?["api_count"] == 50)
            let failed = try #require(done.first { $0["payload"]?["job_id"] == "job-failed" })
            #expect(failed["payload"]?["status"] == "failed")
        }
    }

    func liveTail(port: Int, filters: String?, last: Int) async throws -> [Value] {
        let jwt = try await Self.t1()
        let run = try await withClient(port: port, path: Self.url(jwt)) { c in
            let f = filters.map { #","filters":\#($0)"# } ?? ""
            try await c.send(#"{"type":"subscribe_live_tail","payload":{"job_id":"job-1"\#(f)}}"#)
            // Everything up to the last line the filter keeps, however long the timeline takes on a
            // busy machine; then a ping as a barrier: whatever else arrives comes before its pong.
            var values = try await c.collect { $0["payload"]?["entry"]?["line_number"]?.intValue == last }
            try await c.send(#"{"type":"ping"}"#)
            values += try await c.collect { $0["type"] == "pong" }
            try await c.close()
            return values
        }
        return (run.value ?? []).filter { $0["type"] == "live_tail_entry" }
    }

    /// Filter cases: the filters sent, and which generated entries they keep.
    static let filterCases: [(String?, @Sendable (Entry) -> Bool)] = [
        (nil, { _ in true }),
        (#"{"log_types":["API","SQL"]}"#, { ["API", "SQL"].contains($0.logType) }),
        (#"{"min_duration_ms":1000}"#, { $0.duration >= 1000 }),
        (#"{"users":["Demo"]}"#, { $0.user == "Demo" }),
        (#"{"queues":["Fast"]}"#, { $0.queue == "Fast" }),
        (#"{"log_types":["API"],"min_duration_ms":500,"users":["Demo"],"queues":["Fast"],"unknown":1}"#,
         { $0.logType == "API" && $0.duration >= 500 && $0.user == "Demo" && $0.queue == "Fast" }),
        (#"{"log_types":[],"users":null}"#, { _ in true }),
    ]

    @Test(arguments: 0..<7)
    func liveTailHonoursEveryFilter(filterCase: Int) async throws {
        let (filters, keep) = Self.filterCases[filterCase]
        // The timeline starts with the subscription (first-message), so no entry can pass before it.
        try await withSimulator(scenario: Self.scenario(), speed: .factor(2), start: .firstMessage) { port async throws in
            let expected = (1...30).map { Entry(line: $0) }.filter(keep).map(\.line)
            let entries = try await liveTail(port: port, filters: filters, last: try #require(expected.last))
            #expect(entries.compactMap { $0["payload"]?["entry"]?["line_number"]?.intValue } == expected)
            for e in entries {
                #expect(e["payload"]?["job_id"] == "job-1")
                #expect(e["payload"]?["entry"]?.objectValue.map { Array($0.keys) } == [
                    "line_number", "timestamp", "log_type", "trace_id", "rpc_id", "queue", "user", "api_code", "form",
                    "duration_ms", "success", "raw_text",
                ])
            }
        }
    }

    @Test func theEleventhSubscriptionIsRefusedAndTheFirstTenKeepWorking() async throws {
        // The timeline starts with the first subscription (first-message); the others follow at once.
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), start: .firstMessage) { port async throws in
            let jwt = try await Self.t1()
            let run = try await withClient(port: port, path: Self.url(jwt)) { c in
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"job-1"}}"#)
                try await c.send(#"{"type":"subscribe_live_tail","payload":{"job_id":"job-1"}}"#)
                for j in ["job-failed", "j3", "j4", "j5", "j6", "j7", "j8", "j9"] {
                    try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"\#(j)"}}"#)
                }
                try await c.send(#"{"type":"subscribe_job_progress","payload":{"job_id":"j10"}}"#)
                var completes = 0
                let values = try await c.collect { v in
                    if v["type"] == "job_complete" && v["payload"]?["job_id"] == "job-1" { completes += 1 }
                    return completes == 1
                }
                try await c.close()
                return values
            }
            let values = try #require(run.value)
            let errors = values.filter { $0["type"] == "error" }
            #expect(errors.count == 1)
            #expect(errors.first?["payload"]?["code"] == "subscription_limit_exceeded")
            #expect(errors.first?["payload"]?["details"]?["job_id"] == "j10")
            #expect(values.contains { $0["type"] == "live_tail_entry" })
            #expect(values.contains { $0["type"] == "job_progress" && $0["payload"]?["job_id"] == "job-1" })
            #expect(values.contains { $0["type"] == "job_complete" && $0["payload"]?["job_id"] == "job-failed" })
        }
    }

    @Test func malformedAndUnknownMessagesGetAnError() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let jwt = try await Self.t1()
            let run = try await withClient(port: port, path: Self.url(jwt)) { c in
                try await c.send("{not json")
                let a = try await c.next()
                try await c.send(#"{"type":"dance"}"#)
                let b = try await c.next()
                try await c.close()
                return [a ?? .null, b ?? .null]
            }
            #expect(run.value?.map { $0["payload"]?["code"] } == ["invalid_message", "invalid_message"])
            #expect(run.value?.last?["payload"]?["message"] == "Unknown message type: dance")
        }
    }
}
