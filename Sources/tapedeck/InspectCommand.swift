import ArgumentParser
import TapedeckCore
import TapedeckRecording

/// `tapedeck inspect`: summarises a recording.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a recording: connections, frame counts, message types, duration and rate."
    )

    @Argument(help: "The recording file.")
    var recording: String

    @Flag(help: "Machine-readable JSON output.")
    var json = false

    @Option(help: "Number of time buckets in the rate sparkline.")
    var buckets: Int = 48

    func run() async throws {
        let summary = try RecordingSummary(path: recording, buckets: max(1, buckets))
        print(json ? summary.json.prettyJSONString : summary.text)
    }
}
