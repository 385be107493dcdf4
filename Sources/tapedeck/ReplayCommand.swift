import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording
import TapedeckReplay

/// `tapedeck replay`: serve a recording back to clients, or play it as a client against a server.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a recording: as a server to live clients (default), or as a client against a server.",
        discussion: """
            Server replay: every recorded path is served. Each client gets the next recorded connection on its \
            path, in recording order (--connection pins one, --loop starts over): the recorded upgrade answer \
            (a 401 stays a 401 with its body), the server frames byte for byte with the recorded gaps (scaled \
            by --speed), and the recorded close. In reactive mode (the default) the replay waits wherever the \
            recording has a client message before a server frame, until the live client sends a matching one \
            (structural match; volatile fields of the profile's preset and --ignore paths do not count).

            Client replay (--as-client --target ws://HOST:PORT): one connection per recorded connection with \
            the recorded path, query, headers and subprotocols; redacted secrets come from --header, --query, \
            --cookie or TAPEDECK_HEADER_<NAME>, TAPEDECK_QUERY_<NAME>, TAPEDECK_COOKIE_<NAME>. Exit status 0 \
            when every connection completed, 1 when the server deviated and a replay stopped, 2 on error.

            Ctrl-C (SIGINT) or SIGTERM closes every connection with 1001 and exits.
            """
    )

    @Argument(help: "The recording (.sqlite) to replay.")
    var recording: String

    @Option(help: "Address to listen on (server replay).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port and prints it (server replay).")
    var port = 8080

    @Option(help: "Recorded seconds per real second, 0.1 to 1000, or 'max'.")
    var speed = "1"

    @Option(help: "reactive: wait for the peer's recorded messages; timed: follow recorded time only.")
    var mode: ReplayConfiguration.Mode = .reactive

    @Option(help: "In reactive mode, on a message that does not match: wait (log and keep waiting) or close (1008).")
    var onMismatch: ReplayConfiguration.MismatchPolicy = .wait

    @Option(help: "Serve only this recorded connection (by id, see `tapedeck inspect`) to every client on its path.")
    var connection: Int64?

    @Flag(help: "Start over when every recorded connection of a path has been served.")
    var loop = false

    @Option(help: "A rule added to the profile's diff preset when matching messages (repeatable): a JSON path ('$.data.id', '$..timestamp'), a named value pattern (uuid, iso-time) or re:REGEX.")
    var ignore: [String] = []

    @Option(help: "Profile whose codec and volatile fields apply. Default: the recording's profile.")
    var profile: String?

    @Flag(help: "Play the recorded client side against --target instead of serving.")
    var asClient = false

    @Option(help: "With --as-client: the server to replay against, e.g. ws://127.0.0.1:8080.")
    var target: String?

    @Option(help: "With --as-client: record the new session into this file (compare it with `tapedeck diff`).")
    var out: String?

    @Flag(help: "With --out: overwrite the file if it exists.")
    var force = false

    @Option(help: "With --as-client: a header to send instead of the recorded one, 'Name: value' (repeatable).")
    var header: [String] = []

    @Option(name: .customLong("query"), help: "With --as-client: a query parameter value, 'name=value' (repeatable).")
    var queryParameters: [String] = []

    @Option(help: "With --as-client: a cookie value, 'name=value' (repeatable).")
    var cookie: [String] = []

    @Option(help: "With --as-client: how long to wait for each awaited server message, e.g. 10s.")
    var timeout = "10s"

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    /// Bad options exit with status 2, like every other error of this command (not ArgumentParser's 64).
    func validate() throws {
        if ReplaySpeed(speed) == nil { Self.fail("--speed must be a number from 0.1 to 1000, or 'max' (got '\(speed)')") }
        if port < 0 || port > 65535 { Self.fail("--port must be 0 to 65535") }
        if asClient && target == nil { Self.fail("--as-client needs --target ws://HOST:PORT") }
        if !asClient && (target != nil || out != nil) { Self.fail("--target and --out go with --as-client") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = logLevel
            return h
        }
        let logger = Logger(label: "tapedeck.replay")
        let loaded: ReplayRecording
        do {
            loaded = try ReplayRecording(path: recording)
        } catch {
            Self.fail("\(error)")
        }
        let profiles = profile ?? loaded.recording.metadata.profile
        let decoderImpl = ProfileFrameDecoder(profiles: profiles)
        let decoder: RecordingFrameDecoder = { opcode, bytes in
            decoderImpl.decode(binary: opcode == .binary, bytes)
        }
        let matcher: any ReplayMatcher
        do {
            matcher = try ReplayMatchers.make(profiles: profiles, ignore: ignore)
        } catch {
            Self.fail("\(error)")
        }
        var replay = ReplayConfiguration(mode: mode, speed: ReplaySpeed(speed) ?? .factor(1), onMismatch: onMismatch)
        if asClient {
            try await runClient(loaded, replay: &replay, matcher: matcher, decoder: decoder, logger: logger)
        } else {
            try await runServer(loaded, replay: replay, matcher: matcher, decoder: decoder, logger: logger)
        }
    }

    private func runServer(
        _ loaded: ReplayRecording, replay: ReplayConfiguration, matcher: any ReplayMatcher, decoder: @escaping RecordingFrameDecoder,
        logger: Logger
    ) async throws {
        let configuration = ReplayServerConfiguration(
            host: host, port: port, replay: replay, pinned: connection.map { ConnectionID(rawValue: $0) }, loop: loop)
        let recordingPath = recording
        let counts = Dictionary(grouping: loaded.connections, by: \.info.path).mapValues(\.count)
        let server: ReplayServer
        do {
            server = try ReplayServer(
                recording: loaded, configuration: configuration, matcher: matcher, decoder: decoder, logger: logger
            ) { host, port in
                let shownHost = host.contains(":") ? "[\(host)]" : host
                var lines = ["tapedeck \(TapedeckVersion.current) replaying \(recordingPath) (\(loaded.connections.count) connection(s)\(loaded.recording.metadata.profile.map { ", profile \($0)" } ?? ""))"]
                var seen = Set<String>()
                for c in loaded.connections where configuration.pinned == nil || configuration.pinned == c.id {
                    guard seen.insert(c.info.path).inserted else { continue }
                    lines.append("  ws://\(shownHost):\(port)\(c.info.path)  (\(configuration.pinned != nil ? "connection \(configuration.pinned!)" : "\(counts[c.info.path] ?? 0) connection(s)"))")
                }
                let reuse = configuration.pinned != nil ? "the pinned connection for every client" : configuration.loop ? "in turn, looping" : "each recorded connection once"
                lines.append("mode \(replay.mode.rawValue), speed \(replay.speed), \(reuse); Ctrl-C to stop")
                FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            }
        } catch {
            Self.fail("\(error)")
        }
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            Self.fail("\(error)")
        }
        let s = server.statistics
        FileHandle.standardOutput.write(
            Data("stopped: replayed \(s.replayed) connection(s) (\(s.completed) completed), \(s.refusals) recorded refusal(s), \(s.turnedAway) request(s) turned away\n".utf8))
    }

    private func runClient(
        _ loaded: ReplayRecording, replay: inout ReplayConfiguration, matcher: any ReplayMatcher, decoder: @escaping RecordingFrameDecoder,
        logger: Logger
    ) async throws {
        let targetURL: UpstreamURL
        do {
            targetURL = try UpstreamURL(parsing: target ?? "")
        } catch {
            Self.fail("--target: \(error)")
        }
        do {
            replay.peerTimeout = try RecordCommand.parseDuration(timeout)
        } catch {
            Self.fail("--timeout: \(error)")
        }
        let client: ReplayClient
        var writer: RecordingWriter?
        do {
            let secrets = try ReplaySecrets(
                headers: header, query: queryParameters, cookies: cookie, environment: ProcessInfo.processInfo.environment)
            let configuration = ReplayClientConfiguration(target: targetURL, replay: replay, secrets: secrets)
            // Secrets are checked before anything is created or sent.
            _ = try ReplayClient(recording: loaded, configuration: configuration, matcher: matcher, decoder: decoder, logger: logger)
            if let out {
                writer = try await RecordingWriter.open(
                    path: out,
                    metadata: RecordingMetadata(
                        name: URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent, upstream: targetURL.description,
                        scenario: loaded.recording.metadata.scenario, profile: loaded.recording.metadata.profile,
                        tags: ["replay-as-client"]),
                    configuration: RecordingConfiguration(overwrite: force, decoder: decoder))
            }
            client = try ReplayClient(
                recording: loaded, configuration: configuration, matcher: matcher, decoder: decoder, logger: logger, writer: writer)
        } catch {
            Self.fail("\(error)")
        }
        FileHandle.standardOutput.write(
            Data("tapedeck \(TapedeckVersion.current) replaying \(recording) as a client against \(targetURL) (\(loaded.connections.count) connection(s), mode \(replay.mode.rawValue), speed \(replay.speed))\n".utf8))
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: client, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            Self.fail("\(error)")
        }
        if let writer {
            do {
                let stats = try await writer.finish()
                FileHandle.standardOutput.write(Data("recorded \(stats.framesCommitted) frames in \(stats.connections) connection(s) to \(out ?? "")\n".utf8))
            } catch {
                Self.fail("\(error)")
            }
        }
        let results = client.results
        var lines: [String] = []
        for r in results {
            let status = r.upgradeStatus.map { "upgrade \($0), " } ?? ""
            lines.append("  connection \(r.connection) \(r.path): \(status)\(Self.describe(r.outcome))")
        }
        let completed = results.filter { $0.outcome == .completed }.count
        lines.append("\(completed) of \(loaded.connections.count) connection(s) completed")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        if results.contains(where: { $0.error != nil }) { throw ExitCode(2) }
        if completed < loaded.connections.count { throw ExitCode(1) }
    }

    static func describe(_ outcome: ReplayOutcome) -> String {
        switch outcome {
        case .completed: "completed"
        case .peerLeft: "the server closed before the end of the recording"
        case .deviated(let why): "stopped: \(why)"
        case .stopped: "stopped"
        }
    }

    /// Prints the error and exits with status 2.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tapedeck replay: \(message)\n".utf8))
        Foundation.exit(2)
    }
}

extension ReplayConfiguration.Mode: ExpressibleByArgument {}
extension ReplayConfiguration.MismatchPolicy: ExpressibleByArgument {}
