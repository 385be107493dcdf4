import ArgumentParser
import Foundation
import TapedeckRecording

/// `tapedeck export`: writes a recording as JSON Lines.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a recording as JSON Lines (one line per frame, after metadata, connection and batch lines)."
    )

    @Argument(help: "The recording file.")
    var recording: String

    @Option(help: "Output format (jsonl).")
    var format: String = "jsonl"

    @Option(help: "Output file (default: standard output).")
    var out: String?

    func run() async throws {
        guard format == "jsonl" else { throw ValidationError("--format must be jsonl") }
        let handle: FileHandle
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: nil), let h = FileHandle(forWritingAtPath: out)
            else { throw ValidationError("cannot write \(out)") }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
        var buffer = Data()
        try RecordingJSONL.export(recordingAt: recording) { line in
            buffer.append(contentsOf: line.utf8)
            buffer.append(0x0A)
            if buffer.count >= 1 << 16 {
                handle.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        handle.write(buffer)
        if out != nil { try handle.close() }
    }
}
