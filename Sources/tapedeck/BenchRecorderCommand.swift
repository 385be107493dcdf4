import ArgumentParser
import Foundation
import TapedeckBench
import TapedeckCore
import TapedeckRecording

/// `tapedeck bench recorder`: the recorder's ingest rate into SQLite, without sockets.
struct BenchRecorderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recorder",
        abstract: "Measure the recorder's ingest: frames per second written and committed to a SQLite recording.",
        discussion: """
            Appends --frames distinct JSON text frames of about --payload-size bytes, over --connections \
            connections, to a fresh recording through the same writer `tapedeck record` uses (redaction \
            check, decoded column, batched transactions). Each connection's frames are fed on an event \
            loop, a read's worth (64 frames) at a time, pausing while the writer's queue is full, as the \
            recording proxy feeds them. Reports the wall time until the last batch committed, frames per \
            second, and the process's CPU time. No socket is involved: this is the ceiling of recording, \
            not of the proxy. The file is deleted afterwards unless --keep is given.

            Examples:
              tapedeck bench recorder --frames 1000000
              tapedeck bench recorder --frames 200000 --connections 100 --json
            """
    )

    @Option(help: "How many frames to write.")
    var frames = 500_000

    @Option(help: "Over how many connections.")
    var connections = 10

    @Option(help: "Approximate size of each JSON payload in bytes.")
    var payloadSize = 200

    @Option(help: "Frames per transaction (the writer's batch size).")
    var batchSize = 4096

    @Option(name: .shortAndLong, help: "The recording to write; it must not exist (default: a temporary file).")
    var output: String?

    @Flag(help: "Keep the recording instead of deleting it.")
    var keep = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard frames > 0 else { throw ValidationError("--frames must be at least 1") }
        guard connections > 0 else { throw ValidationError("--connections must be at least 1") }
        guard payloadSize > 0 else { throw ValidationError("--payload-size must be at least 1") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        if let output, FileManager.default.fileExists(atPath: output) {
            // A benchmark never replaces a file someone may want.
            throw ValidationError("\(output) exists: choose another path for --output")
        }
        let path = output ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("tapedeck-bench-\(getpid()).sqlite")
        let benchmark = IngestBenchmark(
            configuration: .init(
                frames: frames, connections: connections, payloadSize: payloadSize, path: path,
                writer: RecordingConfiguration(batchSize: batchSize)))
        let showProgress = isatty(STDERR_FILENO) != 0
        let report: IngestBenchmark.Report
        do {
            report = try await benchmark.run { committed, total in
                if showProgress { FileHandle.standardError.write(Data("[recorder] \(committed)/\(total) frames committed\n".utf8)) }
            }
        } catch {
            FileHandle.standardError.write(Data("tapedeck bench recorder: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if !keep {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        print(json ? report.json.prettyJSONString : report.table, terminator: json ? "\n" : "")
    }
}
