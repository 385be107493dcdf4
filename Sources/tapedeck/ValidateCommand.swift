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
            Exits with status 1 when any file has a problem. A file with an 'endpoints' key is checked as a profile. \
            A scenario's first 500 events are also rendered through its profile (envelope and codec), so a value \
            a protobuf schema rejects is reported with its field path.
            """
    )

    @Argument(help: "Scenario or profile files.")
    var files: [String]

    @Flag(help: "Print nothing for valid files.")
    var quiet = false

    func run() async throws {
        var failed = false
        for file in files {
            let errors = Self.check(file)
            if errors.isEmpty {
                if !quiet { print("\(file): ok") }
            } else {
                failed = true
                for e in errors { print(e) }
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
        let errors = ScenarioLoader().validate(file: file)
        if !errors.isEmpty { return errors }
        do {
            let s = try ScenarioLoader().load(file: file)
            let world = try SimulatorWorld(scenarios: [s])
            return world.requirementErrors() + world.renderErrors()
        } catch {
            return error.errors
        }
    }
}
