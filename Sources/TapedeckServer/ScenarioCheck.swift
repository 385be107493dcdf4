import Foundation
public import TapedeckScenario
import TapedeckProtocol

/// The checks of `tapedeck validate` for one scenario: the file's own problems, then what its valid
/// streams and entities would do with their profiles (requirements, rendering).
public enum ScenarioCheck {
    /// A checked scenario: what loaded, its world when its profiles load, and every problem.
    public struct Outcome: Sendable {
        public var scenario: Scenario
        public var world: SimulatorWorld?
        /// Problems and warnings, in file order.
        public var problems: [ScenarioError]
        /// Whether a problem (not a warning) was found.
        public var failed: Bool { problems.contains { !$0.isWarning } }
    }

    /// Checks the scenario file at `path`.
    public static func check(file path: String) -> Outcome {
        let (scenario, problems) = ScenarioLoader().loadReportingProblems(file: path)
        return finish(scenario, problems)
    }

    /// Checks scenario text as if it were the file `file`.
    public static func check(text: String, file: String) -> Outcome {
        let (scenario, problems) = ScenarioLoader().loadReportingProblems(text: text, file: file)
        return finish(scenario, problems)
    }

    private static func finish(_ scenario: Scenario, _ problems: [ScenarioError]) -> Outcome {
        let world: SimulatorWorld
        do {
            world = try SimulatorWorld(scenarios: [scenario])
        } catch {
            return Outcome(scenario: scenario, world: nil, problems: sorted(problems.contains(where: { !$0.isWarning }) ? problems : problems + error.errors))
        }
        return Outcome(scenario: scenario, world: world, problems: sorted(problems + world.requirementErrors() + world.renderErrors()))
    }

    /// In file order.
    public static func sorted(_ problems: [ScenarioError]) -> [ScenarioError] {
        problems.enumerated().sorted { a, b in
            let (x, y) = (a.element.location, b.element.location)
            if x.file != y.file { return a.offset < b.offset }
            return (x.line, x.column, a.offset) < (y.line, y.column, b.offset)
        }.map(\.element)
    }
}
