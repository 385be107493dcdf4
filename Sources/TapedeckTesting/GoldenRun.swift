import Foundation
import Logging
import Synchronization
import TapedeckCore
import TapedeckDiff
import TapedeckProtocol
import TapedeckRecording
import TapedeckScenario
import TapedeckServer

/// One scenario file's golden recording during a run: the recording its simulators are tapped into,
/// which test opened which connection, and at the end the comparison with the golden file (or its
/// update).
final class GoldenRun: Sendable {
    let configuration: GoldenConfiguration
    /// The golden recording.
    let goldenPath: String
    /// This run's recording (a temporary file).
    let recordingPath: String
    let writer: RecordingWriter
    let profiles: [String: Profile]
    let logger: Logger
    /// The recording's connection ids each test opened (`first...last`), in test order.
    private let tests = Mutex<[TestConnections]>([])

    struct TestConnections: Sendable {
        var name: String
        var connections: ClosedRange<Int64>
    }

    private init(
        configuration: GoldenConfiguration, goldenPath: String, recordingPath: String, writer: RecordingWriter, profiles: [String: Profile],
        logger: Logger
    ) {
        self.configuration = configuration
        self.goldenPath = goldenPath
        self.recordingPath = recordingPath
        self.writer = writer
        self.profiles = profiles
        self.logger = logger
    }

    /// Opens this run's recording of `scenario` in a temporary file.
    static func start(configuration: GoldenConfiguration, scenario: Scenario, world: SimulatorWorld, logger: Logger) async throws -> GoldenRun {
        let goldenPath = configuration.path(for: scenario)
        let recordingPath = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "tapedeck-test-\(GoldenConfiguration.fileName(for: scenario.name).dropLast(7))-\(UUID().uuidString.prefix(8)).sqlite")
        let writer = try await RecordingWriter.open(
            path: recordingPath,
            metadata: RecordingMetadata(
                name: (goldenPath as NSString).lastPathComponent, scenario: scenario.name, profile: world.profileOrder.joined(separator: ","),
                tags: ["simulator", "tapedeck test"]))
        return GoldenRun(
            configuration: configuration, goldenPath: goldenPath, recordingPath: recordingPath, writer: writer,
            profiles: world.profiles.mapValues(\.profile), logger: logger)
    }

    /// A tap for one test's simulator; `run` is the test, and seals the tap when its last step is
    /// done. Connections get the recording's next ids.
    func record<T>(test: String, _ run: (GoldenTap) async throws -> T) async rethrows -> T {
        let before = Int64(writer.statistics.connections)
        defer {
            let after = Int64(writer.statistics.connections)
            if after > before { tests.withLock { $0.append(TestConnections(name: test, connections: (before + 1)...after)) } }
        }
        return try await run(GoldenTap(recorder: SimulatorRecorder(writer: writer, logger: logger, profiles: profiles)))
    }

    /// Finishes the recording and compares it with the golden one (or, with `update`, replaces the
    /// golden one when every test passed). Returns the golden check as a test result.
    func finish(scenario: Scenario, results: [TestResult]) async -> TestResult {
        let started = ContinuousClock.now
        let location = SourceLocation(file: scenario.file, line: 1, column: 1)
        func result(_ name: String, _ failure: TestFailure?) -> TestResult {
            let seconds = TestRunner.seconds(ContinuousClock.now - started)
            return TestResult(name: name, location: location, outcome: failure.map { .failed($0) } ?? .passed, seconds: seconds, scenarioSeconds: seconds)
        }
        func failure(_ message: String, _ details: [String] = []) -> TestFailure {
            TestFailure(location: location, step: "golden", message: message, details: details)
        }
        do {
            try await writer.finish()
        } catch {
            return result("golden recording \(goldenPath)", failure("cannot record the run: \(error)"))
        }
        if configuration.update {
            let name = "golden recording written to \(goldenPath)"
            let failed = results.filter { $0.failure != nil }.count
            guard failed == 0 else {
                removeRecording()
                return result(name, failure("not updated: \(failed) test\(failed == 1 ? "" : "s") failed"))
            }
            do {
                try install()
                return result(name, nil)
            } catch {
                return result(name, failure("cannot write \(goldenPath): \(error)"))
            }
        }
        let name = "golden recording \(goldenPath) matches"
        guard FileManager.default.fileExists(atPath: goldenPath) else {
            removeRecording()
            return result(name, failure("no golden recording at \(goldenPath); run with --update-golden to create it"))
        }
        let diff: RecordingDiff
        do {
            diff = try RecordingComparator(options: DiffOptions(ignore: configuration.ignore)).compare(expected: goldenPath, actual: recordingPath)
        } catch {
            return result(name, failure("cannot compare with \(goldenPath): \(error)", ["this run's recording: \(recordingPath)"]))
        }
        guard !diff.isEqual else {
            removeRecording()
            return result(name, nil)
        }
        return result(name, failure(Self.headline(diff, golden: goldenPath), details(diff)))
    }

    static func headline(_ diff: RecordingDiff, golden: String) -> String {
        let n = diff.differenceCount
        return "\(n) difference\(n == 1 ? "" : "s") from the golden recording \(golden)"
    }

    /// A line per finding, naming the connection, the test that opened it, the message and the JSON path.
    func details(_ diff: RecordingDiff) -> [String] {
        let owners = tests.withLock { $0 }
        var lines: [String] = []
        for connection in diff.connections where !connection.isEqual {
            let test = (connection.actualID ?? connection.expectedID).flatMap { id in owners.first { $0.connections.contains(id.rawValue) }?.name }
            lines.append("connection \(connection.label)" + (test.map { " (test '\($0)')" } ?? "") + ":")
            lines += connection.findings.map { "  \($0)" }
            if connection.omittedFindings > 0 { lines.append("  ... and \(connection.omittedFindings) more") }
        }
        lines.append("rules: \(diff.rules.summary)")
        lines.append("this run's recording: \(recordingPath) (tapedeck diff \(goldenPath) \(recordingPath))")
        lines.append("if the change is intended, rewrite the golden recording with --update-golden")
        return lines
    }

    /// Moves this run's recording to the golden path, replacing a recording there.
    private func install() throws {
        let fm = FileManager.default
        let dir = (goldenPath as NSString).deletingLastPathComponent
        if !dir.isEmpty { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        if fm.fileExists(atPath: goldenPath) {
            guard (try? RecordingReader(path: goldenPath)) != nil else {
                throw TestConnectionError(message: "\(goldenPath) exists and is not a Tapedeck recording; nothing was changed")
            }
        }
        for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: goldenPath + suffix) {
            try fm.removeItem(atPath: goldenPath + suffix)
        }
        for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: recordingPath + suffix) {
            // A copy, not a move: the temporary directory may be on another file system.
            try fm.copyItem(atPath: recordingPath + suffix, toPath: goldenPath + suffix)
            try fm.removeItem(atPath: recordingPath + suffix)
        }
    }

    /// Removes this run's recording (when nothing in it needs a look).
    func removeRecording() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: recordingPath + suffix) }
    }
}

/// The golden recordings a run has handed out, so two scenario files never share one.
final class GoldenClaims: Sendable {
    private let paths = Mutex<[String: String]>([:])

    /// Claims `path` for `file`; returns the file that already has it, or `nil`.
    func claim(_ path: String, for file: String) -> String? {
        paths.withLock { claims in
            if let other = claims[path], other != file { return other }
            claims[path] = file
            return nil
        }
    }
}
