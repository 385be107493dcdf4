public import TapedeckScenario

/// The outcome of one scenario test.
public struct TestResult: Sendable {
    public enum Outcome: Sendable {
        case passed
        case failed(TestFailure)
        case skipped(String)
    }

    /// The test's name.
    public var name: String
    /// Where the test is defined.
    public var location: SourceLocation
    public var outcome: Outcome
    /// Real time the test took, in seconds.
    public var seconds: Double
    /// Scenario time that passed during the test, in seconds (equal to `seconds` against a target).
    public var scenarioSeconds: Double

    public init(name: String, location: SourceLocation, outcome: Outcome, seconds: Double, scenarioSeconds: Double) {
        self.name = name
        self.location = location
        self.outcome = outcome
        self.seconds = seconds
        self.scenarioSeconds = scenarioSeconds
    }

    public var passed: Bool { if case .passed = outcome { true } else { false } }
    public var failure: TestFailure? { if case .failed(let f) = outcome { f } else { nil } }
}
