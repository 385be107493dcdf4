import ArgumentParser
import Foundation
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
            steps run in real time against a server started elsewhere (`tapedeck serve`, or the real backend).

            Prints a line per test, then `N passed, N failed`. Exit code: 0 when every test passed, \
            1 when a test failed, 2 when a scenario does not load.

            Examples:
              tapedeck test scenarios/
              tapedeck test scenarios/ops-control-center --filter auth --junit report.xml
              tapedeck test scenarios/ops-control-center/incident-storm.yaml --target ws://127.0.0.1:8080
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

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
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
        let runner = TestRunner(
            configuration: TestRunConfiguration(
                target: target.flatMap(Self.parseTarget), filter: filter,
                jwtSecret: secret ?? ProcessInfo.processInfo.environment["TAPEDECK_JWT_SECRET"] ?? Authenticator.defaultSecret, jobs: jobs))
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
