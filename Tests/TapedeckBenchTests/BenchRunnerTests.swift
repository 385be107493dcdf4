import Foundation
import OrderedCollections
import Testing
import TapedeckBench
import TapedeckCore

@Suite struct BenchRunnerTests {
    func configuration(_ server: TestBenchServer, connections: Int, send: String?, duration: Duration = .milliseconds(800),
                       latency: String? = "$.data.t") throws -> BenchConfiguration {
        BenchConfiguration(
            target: try BenchTarget(parsing: "ws://127.0.0.1:\(server.port)/stream"),
            connections: connections,
            rampPerSecond: nil,
            send: try send.map { try Template(string: $0) },
            duration: duration,
            latencyField: try latency.map { try LatencyField(parsing: $0) })
    }

    @Test func countsEveryMessageAndByteEachConnectionReceives() async throws {
        let server = try await TestBenchServer.start()
        defer { Task { await server.stop() } }
        let report = try await BenchRunner(configuration: configuration(server, connections: 3, send: "stream 50 0 0", latency: nil)).run()
        #expect(report.connectionsOpen == 3)
        #expect(report.connectionsFailed == 0)
        #expect(report.messagesSinceFirstConnect == 150)
        let one = #"{"type":"tick","note":"a \"quoted\" {brace} [x]","data":{"i":7,"t":1234567890123}}"#.utf8.count
        #expect(report.bytesSinceFirstConnect > 150 * (one - 20))
        #expect(report.latency == nil)
        #expect(report.connectTime?.samples == 3)
    }

    @Test func sendsEachConnectionItsTemplatedFirstMessageWithHeadersAndSubprotocol() async throws {
        let server = try await TestBenchServer.start(requireAuth: true)
        defer { Task { await server.stop() } }
        var config = try configuration(server, connections: 4, send: "hello {{ conn.index }} of {{ connections }} as {{ conn.id }}", latency: nil)
        config.headers = [("Authorization", "Bearer ok")]
        config.subprotocol = "bench.v1"
        config.duration = .milliseconds(200)
        let report = try await BenchRunner(configuration: config).run()
        #expect(report.connectionsOpen == 4)
        #expect(Set(server.received) == Set((0..<4).map { "bench.v1|hello \($0) of 4 as \($0 + 1)" }))
    }

    @Test func aRefusedUpgradeIsReportedWithItsStatus() async throws {
        let server = try await TestBenchServer.start(requireAuth: true)
        defer { Task { await server.stop() } }
        await #expect(throws: BenchError.noConnection(BenchError.upgradeRefused(status: 401).description)) {
            _ = try await BenchRunner(configuration: configuration(server, connections: 2, send: nil)).run()
        }
    }

    @Test func measuresOneWayLatencyFromTheStampAndCountsUnstampedMessages() async throws {
        let server = try await TestBenchServer.start()
        defer { Task { await server.stop() } }
        // 2 connections, a message every 5 ms each, every 4th without a stamp, measured for about a second.
        let report = try await BenchRunner(configuration: configuration(server, connections: 2, send: "stream 100000 5 4", duration: .seconds(1))).run()
        #expect(report.messages > 0)
        let latency = try #require(report.latency)
        #expect(latency.samples + report.latencyMissing + report.latencyNegative == report.messages)
        #expect(report.latencyMissing > 0)
        #expect(report.latencyNegative == 0)
        #expect(latency.p50 >= 0 && latency.p50 <= latency.p99 && latency.p99 <= latency.max)
        // Not a speed check: a stamp read from the wrong place would be off by days, not by seconds.
        #expect(latency.max < 60_000)
    }

    @Test func theJSONReportHasTheDocumentedShape() async throws {
        let server = try await TestBenchServer.start()
        defer { Task { await server.stop() } }
        var config = try configuration(server, connections: 2, send: "stream 100000 10 0", duration: .milliseconds(500))
        config.pid = getpid()
        let json = try await BenchRunner(configuration: config).run().json
        #expect(json.objectValue.map { Array($0.keys) } == ["target", "interrupted", "duration_s", "connections", "messages", "latency_ms", "server", "client"])
        #expect(json["connections"]?["open"] == 2)
        #expect(json["connections"]?.objectValue.map { Array($0.keys) } == ["requested", "open", "failed", "closed_by_server", "connect_ms", "ramp_s"])
        #expect(json["connections"]?["connect_ms"]?.objectValue.map { Array($0.keys) } == ["samples", "p50", "p90", "p99", "p99_9", "max", "mean"])
        #expect(json["messages"]?.objectValue.map { Array($0.keys) } == ["total", "bytes", "per_second", "bytes_per_second", "per_connection_per_second", "since_first_connect"])
        #expect(json["latency_ms"]?["field"] == "$.data.t")
        #expect(json["latency_ms"]?["p99"]?.doubleValue != nil)
        #expect(json["server"]?["pid"] == .int(Int(config.pid!)))
        #expect((json["server"]?["rss_end_bytes"]?.doubleValue ?? 0) > 0)
        #expect(json["interrupted"] == false)
    }

    @Test func cancellingTheRunReturnsThePartialResult() async throws {
        let server = try await TestBenchServer.start()
        defer { Task { await server.stop() } }
        let config = try configuration(server, connections: 2, send: "stream 100000 5 0", duration: .seconds(600))
        let run = Task { try await BenchRunner(configuration: config).run() }
        try await Task.sleep(for: .milliseconds(700))
        run.cancel()
        let report = try await run.value
        #expect(report.interrupted)
        #expect(report.durationSeconds < 60)
        #expect(report.connectionsOpen == 2)
        #expect(report.table.contains("(interrupted)"))
    }
}
