import ArgumentParser
import Foundation
import TapedeckRecording

/// `tapedeck import`: rebuilds a recording from its JSON Lines export.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Rebuild a recording from a JSON Lines export."
    )

    @Argument(help: "The .jsonl file written by tapedeck export.")
    var file: String

    @Option(help: "The recording file to create.")
    var out: String

    @Flag(help: "Overwrite --out if it exists.")
    var force = false

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read \(file)")
        }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        try RecordingJSONL.importLines(lines, to: out, overwrite: force)
    }
}
