import ArgumentParser
import Foundation
import TapedeckCore
import TapedeckDiff

/// `tapedeck diff`: compares two recordings message by message under ignore rules.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two recordings: connections, upgrades, messages, fields, close codes and timing.",
        discussion: """
            Connections are paired by path and order (or --match). Within a connection, each direction's \
            messages are aligned by their key (the profile's diff key, else top-level type/action/event), \
            so one inserted message is reported once, not as a cascade. Paired messages are compared \
            structurally; each difference names the connection, the message number, the JSON path and both values.

            Rules, in order: the profile's diff preset (the recording's profile), rules files (--rules, and \
            .tapedeck-diff.yaml beside either recording), then --ignore.

            Exit status: 0 equal under the rules, 1 different, 2 error (unreadable file, bad rule or option).
            """
    )

    @Argument(help: "The baseline recording (expected, shown left).")
    var expected: String

    @Argument(help: "The recording compared with it (actual, shown right).")
    var actual: String

    @Option(
        help: ArgumentHelp(
            "Ignore differences at a JSON path ($.timestamp, $.data.id, $..updated_at, $.logs[*].id), or between two values that both match a named pattern (uuid, iso-time, hex-id) or re:REGEX. Repeatable.",
            valueName: "rule"))
    var ignore: [String] = []

    @Option(help: ArgumentHelp("A rules file with the keys of a profile's diff: section (key, ignore, ignore_values). Repeatable.", valueName: "file"))
    var rules: [String] = []

    @Flag(help: "Do not apply the profile's diff preset (rules files and --ignore still apply).")
    var noPreset = false

    @Option(help: ArgumentHelp("A profile (built-in name or file) whose preset and codec apply, instead of the one the recordings name.", valueName: "profile"))
    var profile: String?

    @Option(help: ArgumentHelp("Pair connections by path and a request header or query parameter: header:NAME or query:NAME.", valueName: "how"))
    var match: String?

    @Option(help: ArgumentHelp("Count a gap between paired messages that drifts by more than this as a difference (e.g. 50ms, 1s). Without it, timing is reported only.", valueName: "duration"))
    var timingTolerance: String?

    @Option(help: ArgumentHelp("A message found on both sides in a different order is a difference only when it moved by more than this in time (default 100ms; 0 counts every reordering). Replies and events that race arrive in either order.", valueName: "duration"))
    var reorderWindow: String = "100ms"

    @Option(help: ArgumentHelp("Report format: text, json, junit (one test case per connection) or html (a self-contained page).", valueName: "format"))
    var format: String = "text"

    @Option(name: [.short, .long], help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(inversion: .prefixedNo, help: "Colour the text report (default: only when standard output is a terminal and NO_COLOR is unset).")
    var color: Bool?

    @Option(help: ArgumentHelp("List at most this many differences per connection (all are counted).", valueName: "n"))
    var maxDifferences: Int = 100

    func run() async throws {
        do {
            let status = try runDiff()
            if status != .equal { throw ExitCode(status.rawValue) }
        } catch let error as DiffError {
            FileHandle.standardError.write(Data("tapedeck diff: error: \(error)\n".utf8))
            throw ExitCode(DiffExitStatus.error.rawValue)
        }
    }

    func runDiff() throws(DiffError) -> DiffExitStatus {
        guard let format = DiffReportRenderer.Format(rawValue: format) else {
            throw .badOption("--format '\(format)': expected text, json, junit or html")
        }
        var tolerance: Int64?
        if let timingTolerance {
            guard let seconds = DurationText.seconds(timingTolerance), seconds >= 0, seconds < 1e6 else {
                throw .badOption("--timing-tolerance '\(timingTolerance)': expected a duration such as 50ms or 1s")
            }
            tolerance = Int64(seconds * 1e9)
        }
        guard let window = DurationText.seconds(reorderWindow), window >= 0, window < 1e6 else {
            throw .badOption("--reorder-window '\(reorderWindow)': expected a duration such as 100ms or 0")
        }
        let options = DiffOptions(
            ignore: ignore, rulesFiles: rules, useProfilePreset: !noPreset, profile: profile,
            match: try match.map { text throws(DiffError) in try ConnectionMatch(parsing: text) } ?? .pathAndOrder,
            timingToleranceNanos: tolerance, reorderWindowNanos: Int64(window * 1e9), maxFindingsPerConnection: maxDifferences)
        let diff = try RecordingComparator(options: options).compare(expected: expected, actual: actual)
        let useColor = color ?? (output == nil && isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
        let report = DiffReportRenderer.render(diff, format: format, color: useColor && format == .text)
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(report.utf8)) else {
                throw .unreadable("\(output): cannot write the report")
            }
            print("tapedeck diff: \(DiffReportRenderer.headline(diff)); report written to \(output)")
        } else {
            print(report, terminator: "")
        }
        return DiffExitStatus(diff)
    }
}
