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

/// Why a test failed: the step, what it expected, and what arrived instead.
public struct TestFailure: Error, Sendable, CustomStringConvertible {
    /// Where the failing step is written.
    public var location: SourceLocation
    /// The step's keyword (`expect`, `expect_close`, ...).
    public var step: String
    /// One line: what went wrong.
    public var message: String
    /// Further lines: the expected pattern, the closest messages that arrived and where they differ.
    public var details: [String]

    public init(location: SourceLocation, step: String, message: String, details: [String] = []) {
        self.location = location
        self.step = step
        self.message = message
        self.details = details
    }

    /// `file:line:col: step: message`, then the details indented.
    public var description: String {
        (["\(location): \(step): \(message)"] + details.map { "  " + $0 }).joined(separator: "\n")
    }
}

/// The results of one scenario file.
public struct FileResult: Sendable {
    /// The file as given on the command line (or found in a directory).
    public var file: String
    /// The scenario's name; empty when it did not load.
    public var scenario: String
    public var results: [TestResult]
    /// Why the file could not run (it does not load, or the simulator could not start).
    public var error: String?
    /// Real time the file took, in seconds.
    public var seconds: Double

    public init(file: String, scenario: String = "", results: [TestResult] = [], error: String? = nil, seconds: Double = 0) {
        self.file = file
        self.scenario = scenario
        self.results = results
        self.error = error
        self.seconds = seconds
    }
}
