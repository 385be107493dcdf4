import ArgumentParser
import Foundation
import TapedeckDiff
import TapedeckProtocol
import TapedeckTesting

/// `tapedeck test`: runs the `tests:` of scenario files.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the tests written in scenarios' `tests:` sections.",
        discussion: """
            Without --target, each test gets its own in-process simulator of its scenario on an \
            ephemeral port, on a manual clock: waits and timeouts advance scenario time instead of \
            sleeping, so a 60 s heartbeat timeout is checked in milliseconds. With --target, the same \
            steps run in real time against a server started elsewhere (`tapedeck serve`, or the real backend); \
            tests marked `skip_target: reason` (they need the in-process simulator) are reported as skipped.

            Golden recordings (in-process only): --golden records every connection of a file's tests \
            (the simulator tapped as `serve --record` does) and diffs the recording against the golden \
            one under the diff's rules: the profile's `diff:` preset, a .tapedeck-diff.yaml beside the \
            golden file, then --ignore. A difference fails the file's `golden recording ... matches` \
            case with the connection, the test, the message and the JSON path. --golden FILE.sqlite \
            takes a single scenario file; --golden DIR/ (an existing directory, or a path ending in /) \
            holds one recording per scenario file, DIR/<scenario name>.sqlite. --update-golden writes \
            the run's recordings as the golden ones, when every test passed. Use the same --filter \
            when writing and checking a golden recording: it holds only the tests that ran.

            Prints a line per test, then `N passed, N failed`. Exit code: 0 when every test passed, \
            1 when a test failed, 2 when a scenario does not load.

            Examples:
              tapedeck test scenarios/
              tapedeck test scenarios/ops-control-center --filter auth --junit report.xml
              tapedeck test scenarios/ops-control-center/incident-storm.yaml --target ws://127.0.0.1:8080
              tapedeck test scenarios/ --golden recordings/golden/ --update-golden
              tapedeck test scenarios/neurallog/regression.yaml --golden nl.sqlite --ignore '$.data.id'
            """
    )

    @Argument(help: "Scenario files, or directories searched recursively for scenarios with tests.")
    var paths: [String] = ["scenarios"]

    @Option(help: "Run against this server (ws://HOST:PORT) in real time instead of an in-process simulator.")
    var target: String?

    @Option(help: "Run only the tests whose name contains this text (case-insensitive).")
    var filter: String?

    @Option(help: "Write a JUnit XML report to this file.")
    var junit: String?

    @Option(help: "How many scenario files run at the same time.")
    var jobs = 1

    @Option(help: "HS256 secret that token(...) signs with. Default: $TAPEDECK_JWT_SECRET, else the development secret.")
    var secret: String?

    @Option(
        help: ArgumentHelp(
            "Record the run and diff it against this golden recording: a .sqlite file for one scenario file, or a directory (DIR/<scenario name>.sqlite per file).",
            valueName: "path"))
    var golden: String?

    @Flag(help: "With --golden: write this run's recordings as the golden ones (when every test passed) instead of comparing.")
    var updateGolden = false

    @Option(
        help: ArgumentHelp(
            "With --golden: also ignore differences at a JSON path ($.data.id), or between values matching a named pattern (uuid, iso-time, hex-id) or re:REGEX, as `tapedeck diff --ignore`. Repeatable.",
            valueName: "rule"))
    var ignore: [String] = []

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if golden == nil && updateGolden { throw ValidationError("--update-golden needs --golden PATH") }
        if golden == nil && !ignore.isEmpty { throw ValidationError("--ignore applies to the golden comparison; it needs --golden PATH") }
        if golden != nil && target != nil {
            throw ValidationError("--golden records the in-process simulator's connections; it cannot be combined with --target")
        }
        var rules = DiffRules()
        for rule in ignore {
            do throws(DiffError) { try rules.add(ignore: rule) } catch { throw ValidationError("--ignore: \(error)") }
        }
        if let target, Self.parseTarget(target) == nil {
            throw ValidationError("--target must look like ws://HOST:PORT, got '\(target)'")
        }
    }

    static func parseTarget(_ text: String) -> (host: String, port: Int)? {
        guard let url = URL(string: text), url.scheme == "ws", let host = url.host else { return nil }
        return (host, url.port ?? 80)
    }

    func run() async throws {
        let files = TestRunner.findFiles(paths)
        if files.isEmpty {
            print("no scenario with tests found in \(paths.joined(separator: " "))")
            throw ExitCode(2)
        }
        var goldenConfiguration: GoldenConfiguration?
        if let golden {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: golden, isDirectory: &isDirectory)
            if golden.hasSuffix("/") || (exists && isDirectory.boolValue) {
                goldenConfiguration = GoldenConfiguration(location: .directory(golden), update: updateGolden, ignore: ignore)
            } else if files.count > 1 {
                print("--golden \(golden) names one recording, but \(files.count) scenario files have tests; give a directory (--golden DIR/) for one recording per scenario file")
                throw ExitCode(2)
            } else {
                goldenConfiguration = GoldenConfiguration(location: .file(golden), update: updateGolden, ignore: ignore)
            }
        }
        let runner = TestRunner(
            configuration: TestRunConfiguration(
                target: target.flatMap(Self.parseTarget), filter: filter,
                jwtSecret: secret ?? ProcessInfo.processInfo.environment["TAPEDECK_JWT_SECRET"] ?? Authenticator.defaultSecret, jobs: jobs,
                golden: goldenConfiguration))
        var results = [FileResult?](repeating: nil, count: files.count)
        await withTaskGroup(of: (Int, FileResult).self) { group in
            var next = 0
            func startNext() {
                guard next < files.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await runner.run(file: files[index])) }
            }
            for _ in 0..<min(jobs, files.count) { startNext() }
            // Files finish in any order with --jobs; they are printed in file order all the same.
            var printed = 0
            while let item = await group.next() {
                let (index, result) = item
                results[index] = result
                while printed < files.count, let done = results[printed] {
                    print(TestReport.lines(for: done).joined(separator: "\n"))
                    printed += 1
                }
                startNext()
            }
        }
        let report = TestReport(files: results.compactMap { $0 })
        if let junit {
            do {
                try report.junitXML().write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                print("cannot write \(junit): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        if report.errors > 0 { print("\(report.errors) scenario file\(report.errors == 1 ? "" : "s") could not run") }
        print(report.summary)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
