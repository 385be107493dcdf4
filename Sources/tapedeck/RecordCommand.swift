import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording

/// `tapedeck record`: a transparent WebSocket proxy that records every connection into a SQLite file.
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record live WebSocket traffic through a transparent proxy.",
        discussion: """
            Clients connect to --listen; each upgrade request is forwarded to --upstream and every frame is \
            relayed unchanged in both directions and written to --out. A client connecting to / is sent to the \
            upstream URL's path and query; any other path is forwarded as it is. Query tokens, Authorization, \
            Cookie and Set-Cookie are redacted before they reach the file or a log. Ctrl-C (SIGINT) or SIGTERM \
            stops cleanly: open connections get a 1001 close, queued frames are committed, the file is closed.
            """
    )

    @Option(help: "Upstream WebSocket URL, e.g. ws://127.0.0.1:8080/api/ws.")
    var upstream: String

    @Option(help: "Address to listen on (port 0 picks a free port; the bound address is printed).")
    var listen: String = "127.0.0.1:9000"

    @Option(help: "The recording file to create.")
    var out: String

    @Option(help: "A JSON path to redact inside JSON payloads (repeatable), e.g. '$.data.email'.")
    var redact: [String] = []

    @Option(help: "Stop after recording this many frames.")
    var maxFrames: Int?

    @Option(help: "Stop after this long, e.g. 30s, 500ms, 2m.")
    var maxDuration: String?

    @Option(help: "Largest frame either side may send, e.g. 1MiB; a larger one closes that side with 1009 and is recorded as the connection's error.")
    var maxFrameSize = ByteSize(bytes: RecordingProxyConfiguration.defaultLimit)

    @Option(help: "Largest message (all its fragments) either side may send; handled like --max-frame-size.")
    var maxMessageSize = ByteSize(bytes: RecordingProxyConfiguration.defaultLimit)

    @Option(help: "How long a client has to send its whole upgrade request; a slower client or an idle socket is dropped.")
    var handshakeTimeout = "10s"

    @Option(help: "An origin browsers may connect from, e.g. http://localhost:3000 (repeatable); others get 403. Default: any.")
    var allowOrigin: [String] = []

    @Option(help: "normal: survives a crash of tapedeck; full: fsync every batch, survives power loss.")
    var durability: String = "normal"

    @Option(help: "Recording name (default: the file name).")
    var name: String?

    @Option(help: "Profile name to store in the metadata.")
    var profile: String?

    @Option(help: "A tag to store in the metadata (repeatable).")
    var tag: [String] = []

    @Option(help: "Commit a batch once it holds this many frames.")
    var batchSize: Int = 4096

    @Option(help: "Commit a batch at the latest after this many milliseconds.")
    var flushInterval: Int = 50

    @Option(help: "Append a line per committed batch to this file ('-' for standard output).")
    var ackLog: String?

    @Flag(help: "Overwrite --out if it exists.")
    var force = false

    @Flag(help: "No progress output.")
    var quiet = false

    @Flag(help: "Log every connection.")
    var verbose = false

    func run() async throws {
        guard let durabilityMode = RecordingDurability(rawValue: durability) else {
            throw ValidationError("--durability must be normal or full")
        }
        let upstreamURL = try UpstreamURL(parsing: upstream)
        let (host, port) = try Self.parseListen(listen)
        let maxDuration = try maxDuration.map(Self.parseDuration)
        let handshakeTimeout = try Self.parseDuration(self.handshakeTimeout)
        guard handshakeTimeout > .zero else { throw ValidationError("--handshake-timeout must be more than 0") }
        var redactor = Redactor()
        for path in redact { redactor.payloadPaths.append(try JSONPath(parsing: path)) }

        var logger = Logger(label: "tapedeck.record")
        logger.logLevel = verbose ? .info : .warning

        var configuration = RecordingConfiguration(
            batchSize: batchSize, flushInterval: .milliseconds(flushInterval), durability: durabilityMode,
            overwrite: force, redaction: redactor)
        // With a profile whose frames are binary (protobuf), `decoded` is filled through its codec.
        let profileDecoder = ProfileFrameDecoder(profiles: profile)
        if profileDecoder.decodesBinary {
            configuration.decoder = { opcode, bytes in profileDecoder.decode(binary: opcode == .binary, bytes) }
        }
        if let ackLog {
            let sink = try RecordAckSink(path: ackLog)
            configuration.onCommit = { @Sendable batch in sink.write(batch) }
        }
        let metadata = RecordingMetadata(
            name: name ?? URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent,
            upstream: upstreamURL.description, profile: profile, tags: tag)
        let writer = try await RecordingWriter.open(path: out, metadata: metadata, configuration: configuration)
        var proxyConfiguration = RecordingProxyConfiguration(
            upstream: upstreamURL, listenHost: host, listenPort: port, maxFrames: maxFrames,
            maxFrameSize: maxFrameSize.bytes, maxMessageSize: maxMessageSize.bytes, handshakeTimeout: handshakeTimeout)
        proxyConfiguration.allowedOrigins = allowOrigin
        let proxy = RecordingProxy(configuration: proxyConfiguration, writer: writer, logger: logger)
        let address: String
        do {
            address = try await proxy.start()
        } catch {
            // Nothing was recorded: do not leave an empty file behind.
            _ = try? await writer.finish()
            try? FileManager.default.removeItem(atPath: out)
            throw error
        }

        // One group: the writer starts first and finishes last. SIGINT and SIGTERM shut it down
        // gracefully; so does the session when it ends by itself (--max-frames, ...).
        let progress = RecordProgress(quiet: quiet)
        let writerService = RecordingWriterService(writer: writer)
        let session = RecordSession(
            proxy: proxy, writer: writer, maxDuration: maxDuration, progress: progress,
            announcement: "listening on \(address), recording \(upstreamURL) to \(out)")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: writerService), .init(service: session, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try? await group.run()
        let reason = session.reason
        let stats: RecordingStatistics
        switch writerService.statistics {
        case .success(let s):
            stats = s
        case .failure(let error):
            progress.finish()
            FileHandle.standardError.write(Data("tapedeck record: \(error)\n".utf8))
            throw ExitCode.failure
        case nil:
            progress.finish()
            FileHandle.standardError.write(Data("tapedeck record: the recording was not finished\n".utf8))
            throw ExitCode.failure
        }
        progress.show(stats, active: 0, force: true)
        progress.finish()
        Self.emit(
            "\(reason): recorded \(stats.framesCommitted) frames (\(stats.bytesCommitted) bytes) in \(stats.connections) connections to \(out)"
        )
    }

    /// A line on standard output, written at once (scripts wait for the "listening on" line).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:9000")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    /// Parses `500ms`, `30s`, `2m`, `1h` or a plain number of seconds.
    /// A duration option (`500ms`, `30s`, `2m`, `1h30m`; a bare number is seconds), as `DurationText` reads it.
    static func parseDuration(_ text: String) throws -> Duration {
        guard let seconds = DurationText.seconds(text), seconds >= 0, seconds < 1e9 else {
            throw ValidationError("cannot read duration \(text) (use e.g. 500ms, 30s, 2m)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// Writes one line per committed batch: `batch <id> seq <first>-<last> frames <n>`.
final class RecordAckSink: Sendable {
    let handle: FileHandle

    init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write --ack-log \(path)")
            }
            handle = h
        }
    }

    func write(_ batch: CommittedBatch) {
        let line = "batch \(batch.id) seq \(batch.firstSeq ?? 0)-\(batch.lastSeq ?? 0) frames \(batch.frameCount)\n"
        handle.write(Data(line.utf8))
    }
}

/// Progress on standard error: one refreshing line on a terminal, a line every few seconds otherwise.
final class RecordProgress: Sendable {
    private let quiet: Bool
    private let tty: Bool
    private let start = ContinuousClock.now
    private let last = RecordProgressState()

    init(quiet: Bool) {
        self.quiet = quiet
        self.tty = isatty(STDERR_FILENO) != 0
    }

    func show(_ s: RecordingStatistics, active: Int, force: Bool = false) {
        guard !quiet else { return }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(s.framesCommitted) / seconds : 0
        let line = String(
            format: "%6.1fs  connections %d (%d open)  frames %d  committed %d  %.0f frames/s  %.1f KiB",
            seconds, s.connections, active, s.framesAccepted, s.framesCommitted, rate, Double(s.bytesCommitted) / 1024)
        if tty {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        } else if last.shouldPrint(seconds: seconds, committed: s.framesCommitted, force: force) {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func finish() {
        if tty && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The last progress line printed (non-terminal mode).
final class RecordProgressState: Sendable {
    private let last = Mutex((seconds: -100.0, committed: -1))

    func shouldPrint(seconds: Double, committed: Int, force: Bool) -> Bool {
        last.withLock { last in
            guard force || (seconds - last.seconds >= 5 && committed != last.committed) else { return false }
            last = (seconds, committed)
            return true
        }
    }
}
