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
