import ArgumentParser
import Foundation
import TapedeckScenario
import TapedeckProtocol
import TapedeckServer

/// `tapedeck validate`: checks scenario and profile files without serving them.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check scenario and profile files; print every problem as file:line:col: message.",
        discussion: """
            Exits with status 1 when any file has a problem (warnings alone do not fail). A file with an \
            'endpoints' key is checked as a profile. Every problem of a file is reported in one run, each once. \
            A scenario's first 500 events are also generated and rendered through its profile (envelope and \
            codec): a template that fails is reported at its field, a value a protobuf schema rejects with its \
            field path, and an entity or event without a field the profile requires at the entity or the stream.
            """
    )

    @Argument(help: "Scenario or profile files.")
    var files: [String]

    @Flag(name: [.short, .long], help: "Print nothing for valid files.")
    var quiet = false

    func run() async throws {
        var failed = false
        for file in files {
            let problems = Self.check(file)
            for p in problems { print(p) }
            if problems.contains(where: { !$0.isWarning }) {
                failed = true
            } else if problems.isEmpty, !quiet {
                print("\(file): ok")
            }
        }
        if failed { throw ExitCode(1) }
    }

    static func check(_ file: String) -> [ScenarioError] {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            return [ScenarioError("cannot read file", at: SourceLocation(file: file, line: 1, column: 1))]
        }
        if text.range(of: "(?m)^endpoints:", options: .regularExpression) != nil {
            do { _ = try ProfileLoader().load(file: file) } catch { return error.errors }
            return []
        }
        // Everything in one run: the file's own problems, then what its valid streams and
        // entities would do with their profile (the control API's scenario loading checks the same).
        return ScenarioCheck.check(file: file).problems
    }
}
