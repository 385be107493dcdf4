import ArgumentParser
import Foundation
import TapedeckBench
import TapedeckCore
import UnixSignals

/// `tapedeck bench`: benchmarks. `tapedeck bench URL` (the default) measures a WebSocket server's
/// fan-out; `tapedeck bench recorder` measures the recorder's ingest.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: a WebSocket load generator (tapedeck bench URL) and the recorder's ingest.",
        discussion: """
            tapedeck bench URL ...          is tapedeck bench ws URL ...: open many WebSocket connections to URL, \
            count what arrives, measure latency (see 'tapedeck bench ws --help').
            tapedeck bench recorder ...     writes frames to a SQLite recording as fast as the recorder can \
            (see 'tapedeck bench recorder --help').
            """,
        subcommands: [BenchLoadCommand.self, BenchRecorderCommand.self],
        defaultSubcommand: BenchLoadCommand.self
    )
}

/// `tapedeck bench [ws] URL`: a load generator that measures a WebSocket server's fan-out.
struct BenchLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws",
        abstract: "Load generator (the default): open many WebSocket connections, count what arrives, measure latency.",
        discussion: """
            Opens --connections WebSocket connections to URL at --ramp, optionally sends each a first \
            message (--send, a template that sees conn.index, conn.id and connections), then measures for \
            --duration: messages and bytes per second, connect-time percentiles and, with --latency-field, \
            one-way latency percentiles (HdrHistogram) from a CLOCK_MONOTONIC stamp in each message, which a \
            scenario writes with mono_ns(). With --pid, it samples that local process's CPU and RSS. Ctrl-C \
            ends the run early and prints what was measured.

            Examples:
              tapedeck serve bench/broadcast.yaml --port 9001 --speed 100 &
              tapedeck bench ws://127.0.0.1:9001/api/ws -c 1000 --ramp 500/s \\
                  -H "Authorization: Bearer $(tapedeck token)" \\
                  --latency-field '$.data.t' --pid $! --duration 30s
              tapedeck bench ws://127.0.0.1:8080/api/ws -c 10 \\
                  -H "Authorization: Bearer $(tapedeck token)" \\
                  --send '{"action":"subscribe","topics":["incidents"],"n":{{ conn.id }}}'
              tapedeck bench ws://127.0.0.1:9001/ -c 100 --duration 5s --json
            """
    )

    @Argument(help: "The server: ws://host[:port]/path[?query].")
    var url: String

    @Option(name: [.short, .long], help: "How many connections to open.")
    var connections = 100

    @Option(help: "How fast connections open: a rate (500/s), a duration for all of them (2s), or 0 for all at once.")
    var ramp = "1000/s"

    @Option(name: [.customShort("H"), .long], help: "An extra request header 'Name: value'. Repeatable.")
    var header: [String] = []

    @Option(help: "A subprotocol to offer (Sec-WebSocket-Protocol).")
    var subprotocol: String?

    @Option(help: "A first message each connection sends (a template: {{ conn.index }}, {{ conn.id }}, {{ connections }}).")
    var send: String?

    @Option(help: "How long to measure once the connections are open, e.g. 10s, 1m.")
    var duration = "10s"

    @Option(help: "JSON path of a send timestamp in each message (e.g. '$.data.t'); without it messages are not parsed.")
    var latencyField: String?

    @Option(help: "Unit of the stamp at --latency-field: ns (mono_ns(), the default), us, ms or s.")
    var latencyUnit = "ns"

    @Option(help: "Event loop threads of the load generator.")
    var threads = 1

    @Option(help: "A local process (the server) whose CPU and RSS are sampled during the run.")
    var pid: Int32?

    @Option(help: "Time allowed for one connection's connect and upgrade.")
    var connectTimeout = "10s"

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "Print a progress line each second on standard error even when it is not a terminal.")
    var progress = false

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be at least 1") }
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        guard let d = DurationText.seconds(duration), d > 0 else { throw ValidationError("--duration must be a duration such as 10s") }
        guard let t = DurationText.seconds(connectTimeout), t > 0 else { throw ValidationError("--connect-timeout must be a duration such as 10s") }
        for h in header where !h.contains(":") { throw ValidationError("--header takes 'Name: value', got '\(h)'") }
    }

    func run() async throws {
        let configuration: BenchConfiguration
        do {
            configuration = try makeConfiguration()
        } catch let error as BenchError {
            throw ValidationError(error.description)
        }
        let showProgress = progress || isatty(STDERR_FILENO) != 0
        let runner = BenchRunner(configuration: configuration)
        let measuring = Task {
            try await runner.run(progress: { p in
                if showProgress { FileHandle.standardError.write(Data((p.line + "\n").utf8)) }
            })
        }
        let signals = Task {
            for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                measuring.cancel()
                break
            }
        }
        let report: BenchReport
        do {
            report = try await measuring.value
        } catch {
            signals.cancel()
            FileHandle.standardError.write(Data("tapedeck bench: \(error)\n".utf8))
            throw ExitCode(1)
        }
        signals.cancel()
        print(json ? report.json.prettyJSONString : report.table, terminator: json ? "\n" : "")
    }

    private func makeConfiguration() throws -> BenchConfiguration {
        let target = try BenchTarget(parsing: url)
        var sendTemplate: Template?
        if let send {
            do { sendTemplate = try Template(string: send) } catch { throw BenchError.invalidOption("--send: \(error)") }
        }
        let headers = header.map { h -> (name: String, value: String) in
            let colon = h.firstIndex(of: ":")!
            return (String(h[..<colon]).trimmingCharacters(in: .whitespaces), String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        return BenchConfiguration(
            target: target,
            connections: connections,
            rampPerSecond: try BenchConfiguration.rampPerSecond(parsing: ramp, connections: connections),
            headers: headers,
            subprotocol: subprotocol,
            send: sendTemplate,
            duration: .milliseconds(Int64((DurationText.seconds(duration)! * 1000).rounded())),
            latencyField: try latencyField.map { try LatencyField(parsing: $0, unit: latencyUnit) },
            threads: threads,
            pid: pid,
            connectTimeout: .milliseconds(Int64((DurationText.seconds(connectTimeout)! * 1000).rounded())),
            environment: ProcessInfo.processInfo.environment
        )
    }
}
