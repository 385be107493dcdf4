import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import OrderedCollections
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol
import TapedeckServer
import TapedeckRecording
import TapedeckTesting
import TapedeckConformance

/// `tapedeck serve`: the simulator.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve scenarios over WebSocket, speaking each scenario's protocol profile.",
        discussion: """
            With no scenario, serves the built-in demo: every built-in profile on one port, each at \
            its spec's path. Clients authenticate with a token from `tapedeck token`.

            Time: by default one shared world timeline starts when a client first sends a message, or \
            2 s after the first connection if none does; \
            `--timeline per-connection` gives each connection its own. `--speed max` plays as fast \
            as clients read, without dropping events.

            Control: on the same port, /_tapedeck/ steers the running simulation (pause, resume, \
            speed, emit an event, inject a fault, list connections; see docs/control-api.yaml) and \
            /metrics serves Prometheus metrics. A web dashboard is at /_tapedeck/ (with a token: \
            /_tapedeck/#token=...): live connections, events and rate, the controls, and a viewer of \
            the recording --record writes and of those in --recordings DIR. On a terminal, a status \
            line every 5 s.

            Ctrl-C (SIGINT) or SIGTERM closes every connection with 1001 (going away) and exits.
            """
    )

    @Argument(help: "Scenario files. Default: the built-in demo.")
    var scenarios: [String] = []

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free port.")
    var port = 8080

    @Option(help: "Scenario seconds per real second, 0.1 to 1000, or 'max'. Default: the scenario's speed, else 1.")
    var speed: String?

    @Flag(inversion: .prefixedNo, help: "Start the timeline over when it ends. Default: the scenario's 'loop'.")
    var loop: Bool?

    @Option(help: "Timeline mode: shared (one world for all connections) or per-connection.")
    var timeline: SimulatorConfiguration.TimelineMode = .shared

    @Option(help: "When the timeline starts: first-message (a client's first message, or 2 s after the first connection), first-connection or immediately. Default: the scenario's 'start', else first-message.")
    var start: SimulatorConfiguration.StartPolicy?

    @Option(help: "HS256 secret for JWTs, at least 32 bytes. Default: $TAPEDECK_JWT_SECRET, else the development secret.")
    var jwtSecret: String?

    @Option(help: "Events queued per connection before the oldest are dropped.")
    var queueSize = 1000

    @Option(help: "Largest message a client may send (all its fragments), e.g. 16MiB; a larger one is closed with 1009.")
    var maxMessageSize = ByteSize(bytes: 1 << 20)

    @Option(help: "How long a client has to send its whole upgrade request (and a plain HTTP connection may stay idle); a slower client or an idle socket is dropped.")
    var handshakeTimeout = "10s"

    @Option(help: "An origin browsers may connect from, e.g. http://localhost:3000 (repeatable); an upgrade from another gets 403. Default: any.")
    var allowOrigin: [String] = []

    @Option(help: "WebSocket connections open at once, all endpoints together; beyond it an upgrade gets 503. 0: no limit.")
    var maxConnections = SimulatorConfiguration.defaultMaxConnections

    @Option(help: "WebSocket connections open at once per identity (the profile's limits.identity, else what its auth derives, else the client's address); beyond it an upgrade gets 429. Default: no limit.")
    var maxConnectionsPerIdentity: Int?

    @Option(help: "Replies and pongs waiting per connection for a client that does not read; beyond it the connection is closed with 1008.")
    var replyQueueSize = 1000

    @Option(help: "Bytes of replies and pongs waiting per connection (one reply always fits, however large); beyond it: close 1008.")
    var replyQueueBytes = ByteSize(bytes: 16 << 20)

    @Option(help: "How long the server waits for a client to answer its close (or to read it at all) before dropping the TCP connection.")
    var closeTimeout = "5s"

    @Option(help: "Only JWTs with this issuer (claim 'iss') are accepted. Default: any.")
    var jwtIssuer: String?

    @Option(help: "Only JWTs for this audience (claim 'aud', a string or a list) are accepted. Default: any.")
    var jwtAudience: String?

    @Option(help: "Clock skew allowed on a JWT's exp, nbf and iat, in seconds, 0 to 60.")
    var jwtLeeway: Double = 0

    @Option(help: "Record every connection and frame into this SQLite file (see `tapedeck inspect`).")
    var record: String?

    @Option(help: "With --record: normal (survives a crash of tapedeck) or full (fsync each batch; survives power loss).")
    var durability: RecordingDurability = .normal

    @Option(help: "Check every client against its profile's client rules (its 'client:' section) and write the report as JSON to this file on shutdown; a summary is printed too.")
    var conformance: String?

    @Option(help: "Write the client conformance report as JUnit XML to this file on shutdown.")
    var conformanceJunit: String?

    @Option(help: "Run the simulation clock this many times faster than real time (heartbeats, timeouts, timers, conformance times), 0.01 to 1000.")
    var clockRate: Double = 1
    @Flag(name: .customLong("no-control"), help: "Do not serve the control API under /_tapedeck/ (/metrics stays).")
    var noControl = false

    @Option(help: "Require 'Authorization: Bearer <token>' on the control API and /metrics. Default: $TAPEDECK_CONTROL_TOKEN, else none.")
    var controlToken: String?

    @Option(help: ArgumentHelp(
        "A directory of recordings the dashboard (/_tapedeck/) may open, besides the one --record writes. Default: none.",
        valueName: "dir"))
    var recordings: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if let speed, SimulatorConfiguration.Speed(speed) == nil {
            throw ValidationError("--speed must be a number from 0.1 to 1000, or 'max' (got '\(speed)')")
        }
        if port < 0 || port > 65535 { throw ValidationError("--port must be 0 to 65535") }
        if queueSize < 1 { throw ValidationError("--queue-size must be at least 1") }
        if replyQueueSize < 1 { throw ValidationError("--reply-queue-size must be at least 1") }
        if maxConnections < 0 { throw ValidationError("--max-connections must be 0 (no limit) or more") }
        if let n = maxConnectionsPerIdentity, n < 1 { throw ValidationError("--max-connections-per-identity must be at least 1") }
        for (name, text) in [("--handshake-timeout", handshakeTimeout), ("--close-timeout", closeTimeout)] {
            guard try RecordCommand.parseDuration(text) > .zero else { throw ValidationError("\(name) must be more than 0") }
        }
        if !(0.01...1000).contains(clockRate) { throw ValidationError("--clock-rate must be from 0.01 to 1000 (got \(clockRate))") }
        if let controlToken, controlToken.isEmpty { throw ValidationError("--control-token must not be empty") }
        if noControl && controlToken != nil { throw ValidationError("--control-token protects the control API, which --no-control turns off; give one or the other") }
        if let recordings {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: recordings, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--recordings must name a directory (got '\(recordings)')")
            }
            if noControl { throw ValidationError("--recordings offers recordings to the dashboard, which --no-control turns off; give one or the other") }
        }
        if !(0...Authenticator.maximumLeeway).contains(jwtLeeway) {
            throw ValidationError("--jwt-leeway must be 0 to \(Int(Authenticator.maximumLeeway)) seconds")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = logLevel
            return h
        }
        let logger = Logger(label: "tapedeck")
        let files = scenarios.isEmpty ? BuiltinResources.demoScenarios : scenarios
        if scenarios.isEmpty && files.isEmpty { throw ValidationError("this build has no demo scenario; name a scenario file") }
        let loader = ScenarioLoader()
        var loaded: [Scenario] = []
        var errors: [ScenarioError] = []
        for f in files {
            if Self.isRecording(f) {
                FileHandle.standardError.write(Data("""
                    \(f) is a recording, not a scenario. To serve it to clients, run `tapedeck replay \(f)`; \
                    to see what it holds, run `tapedeck inspect \(f)`.

                    """.utf8))
                throw ExitCode(2)
            }
            do { loaded.append(try loader.load(file: f)) } catch { errors += error.errors }
        }
        let world: SimulatorWorld
        do throws(ScenarioErrors) {
            guard errors.isEmpty else { throw ScenarioErrors(errors) }
            world = try SimulatorWorld(scenarios: loaded)
            let unmet = world.requirementErrors()
            guard unmet.isEmpty else { throw ScenarioErrors(unmet) }
        } catch {
            for e in error.errors { FileHandle.standardError.write(Data("\(e)\n".utf8)) }
            throw ExitCode(2)
        }
        var configuration = SimulatorConfiguration(
            host: host, port: port, speed: speed.flatMap(SimulatorConfiguration.Speed.init), loop: loop, timeline: timeline,
            start: start, jwtSecret: jwtSecret ?? ProcessInfo.processInfo.environment["TAPEDECK_JWT_SECRET"] ?? Authenticator.defaultSecret,
            queueCapacity: queueSize, maxMessageSize: maxMessageSize.bytes)
        configuration.handshakeTimeout = try RecordCommand.parseDuration(handshakeTimeout)
        configuration.allowedOrigins = allowOrigin
        configuration.maxConnections = maxConnections == 0 ? nil : maxConnections
        configuration.maxConnectionsPerIdentity = maxConnectionsPerIdentity
        configuration.replyQueueCapacity = replyQueueSize
        configuration.replyQueueBytes = replyQueueBytes.bytes
        configuration.closeTimeout = try RecordCommand.parseDuration(closeTimeout)
        configuration.jwtIssuer = jwtIssuer
        configuration.jwtAudience = jwtAudience
        configuration.jwtLeeway = jwtLeeway
        configuration.controlEnabled = !noControl
        configuration.controlToken = controlToken ?? ProcessInfo.processInfo.environment["TAPEDECK_CONTROL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.version = TapedeckVersion.current
        configuration.recordingsDirectory = recordings
        configuration.liveRecording = record
        let metrics = ServerMetrics(profiles: world.profileOrder)
        let serving = configuration
        var recorder: SimulatorRecorder?
        if let record {
            do {
                let writer = try await RecordingWriter.open(
                    path: record,
                    metadata: RecordingMetadata(
                        name: (record as NSString).lastPathComponent, scenario: world.scenarios.map(\.name).joined(separator: ","),
                        profile: world.profileOrder.joined(separator: ","), tags: ["simulator"]),
                    configuration: RecordingConfiguration(durability: durability, onCommit: metrics.recorderCommitHandler))
                recorder = SimulatorRecorder(
                    writer: writer, logger: logger, profiles: world.profiles.mapValues(\.profile), onFrame: { metrics.recorded(frames: 1) })
            } catch {
                throw ValidationError("cannot record to \(record): \(error)")
            }
        }
        let clock: any SimulationClock = clockRate == 1 ? RealClock() as any SimulationClock : ScaledClock(rate: clockRate)
        let checking = conformance != nil || conformanceJunit != nil
        let conformanceTap = checking ? try await Self.conformanceTap(world: world, configuration: serving, clock: clock) : nil
        let taps: [any SimulatorTap] = [recorder as (any SimulatorTap)?, conformanceTap as (any SimulatorTap)?].compactMap { $0 }
        let tap: (any SimulatorTap)? = taps.count > 1 ? TapFanOut(taps) : taps.first
        let opener = SimulatorRecordingOpener(
            logger: logger, profiles: world.profiles.mapValues(\.profile), scenario: world.scenarios.map(\.name).joined(separator: ","), durability: durability)
        let server = SimulatorServer(
            world: world, configuration: serving, clock: clock, logger: logger, tap: tap, metrics: metrics, recordings: opener
        ) { host, port in
            let shownHost = host.contains(":") ? "[\(host)]" : host
            var lines: [String] = []
            lines.append("tapedeck \(TapedeckVersion.current) serving \(world.scenarios.map(\.name).joined(separator: ", "))")
            for (path, profiles) in SimulatorServer(world: world, configuration: serving).endpoints {
                lines.append("  ws://\(shownHost):\(port)\(path)  (\(profiles.joined(separator: ", ")))")
            }
            if let record { lines.append("recording every connection to \(record)") }
            if let conformanceTap {
                let checked = conformanceTap.profiles.isEmpty ? "no served profile states client rules" : conformanceTap.profiles.joined(separator: ", ")
                lines.append("checking client conformance (\(checked)); the report is written on shutdown")
            }
            if clock is ScaledClock { lines.append("clock rate \(clockRate == clockRate.rounded() ? String(Int(clockRate)) : String(clockRate))x real time") }
            if serving.controlEnabled {
                let auth = serving.controlToken == nil ? "" : " (Authorization: Bearer <--control-token>)"
                lines.append("control http://\(shownHost):\(port)/_tapedeck/  metrics http://\(shownHost):\(port)/metrics\(auth)")
                let fragment = serving.controlToken == nil ? "" : "#token=<--control-token>"
                lines.append("dashboard http://\(shownHost):\(port)/_tapedeck/\(fragment)\(recordings.map { "  (recordings of \($0))" } ?? "")")
                if serving.controlToken == nil && !["127.0.0.1", "localhost", "::1"].contains(serving.host) {
                    lines.append("warning: the control API is open to anyone who can reach \(serving.host):\(port); set --control-token or --no-control")
                }
            } else {
                lines.append("metrics http://\(shownHost):\(port)/metrics")
            }
            lines.append("speed \((serving.speed ?? .factor(world.scenarios.first?.speed ?? 1)).description), timeline \(serving.timeline.rawValue), starts \(Self.describe(serving.start ?? world.scenarios.lazy.compactMap(\.startPolicy).first ?? .firstMessage)); Ctrl-C to stop")
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        // One group: the writer starts first and stops last; the server's hub stops first (clients
        // get 1001), then its HTTP application.
        let writerService = recorder.map { RecordingWriterService(writer: $0.writer) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = writerService.map { [.init(service: $0)] } ?? []
        services += try await server.makeServices().map { .init(service: $0) }
        if isatty(STDERR_FILENO) != 0 { services.append(.init(service: StatusLineService(server: server))) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as SimulatorServerError {
            FileHandle.standardError.write(Data("tapedeck serve: \(error)\n".utf8))
            if let record, writerService?.statistics.flatMap({ try? $0.get() })?.connections == 0 {
                try? FileManager.default.removeItem(atPath: record)
            }
            throw ExitCode.failure
        }
        if let conformanceTap {
            let report = conformanceTap.report()
            try ConformanceOutput.write(report, json: conformance, junit: conformanceJunit)
            FileHandle.standardOutput.write(Data(report.summaryText.utf8))
        }
        if let writerService, let record {
            switch writerService.statistics {
            case .success(let stats):
                FileHandle.standardOutput.write(Data("recorded \(stats.framesCommitted) frames in \(stats.connections) connections to \(record)\n".utf8))
            case .failure(let error):
                FileHandle.standardError.write(Data("tapedeck serve: the recording failed: \(error)\n".utf8))
                throw ExitCode.failure
            case nil: break
            }
        }
    }
}

extension ServeCommand {
    static func describe(_ start: SimulatorConfiguration.StartPolicy) -> String {
        switch start {
        case .immediately: "now"
        case .firstConnection: "at the first connection"
        case .firstMessage: "at the first client message (or 2 s after the first connection)"
        }
    }

    /// The tap that checks clients against their profiles' client rules (`--conformance`).
    static func conformanceTap(world: SimulatorWorld, configuration: SimulatorConfiguration, clock: any SimulationClock) async throws -> ConformanceTap {
        let authenticator = try await Authenticator(
            secret: configuration.jwtSecret, issuer: configuration.jwtIssuer, audience: configuration.jwtAudience, leeway: configuration.jwtLeeway)
        let identifiers = world.profiles.mapValues {
            ClientIdentifier(profile: $0.profile, authenticator: authenticator, entities: $0.entities, settings: $0.settings)
        }
        return ConformanceTap(identifiers: identifiers, order: world.profileOrder, clock: clock)
    }

    /// Whether `path` is a SQLite file (a recording) rather than a scenario.
    static func isRecording(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        return head == Data("SQLite format 3\u{0}".utf8)
    }
}

extension SimulatorConfiguration.TimelineMode: ExpressibleByArgument {}
extension SimulatorConfiguration.StartPolicy: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
extension RecordingDurability: ExpressibleByArgument {}
