import Foundation
public import Logging
import ServiceLifecycle
import TapedeckCore
import TapedeckProtobuf
import TapedeckProtocol
public import TapedeckScenario
import TapedeckServer

/// Settings of a test run.
public struct TestRunConfiguration: Sendable {
    /// `host` and `port` of a server started elsewhere; `nil` starts the simulator in-process for
    /// each test, on the manual clock.
    public var target: (host: String, port: Int)?
    /// Runs only tests whose name contains this text (case-insensitive).
    public var filter: String?
    /// The HS256 secret that `token(...)` signs with (the target's secret).
    public var jwtSecret: String
    /// How many files run at the same time.
    public var jobs: Int
    /// Record each file's run and compare it with its golden recording (in-process runs only).
    public var golden: GoldenConfiguration?

    public init(
        target: (host: String, port: Int)? = nil, filter: String? = nil, jwtSecret: String = Authenticator.defaultSecret, jobs: Int = 1,
        golden: GoldenConfiguration? = nil
    ) {
        self.target = target
        self.filter = filter
        self.jwtSecret = jwtSecret
        self.jobs = jobs
        self.golden = golden
    }
}

/// Runs the `tests:` of scenario files.
///
/// In-process (the default), each test gets a fresh simulator of its scenario on 127.0.0.1 port 0,
/// driven by a `ManualClock`: waits and timeouts advance that clock instead of sleeping. With a
/// `target`, the same steps run in real time against that server, except tests marked `skip_target`.
/// With `golden`, the simulators of a file are tapped into one recording that is compared with the
/// file's golden recording; the comparison is one more test result of the file.
public struct TestRunner: Sendable {
    public let configuration: TestRunConfiguration
    let logger: Logger
    /// Golden recordings already used in this run, and by which file.
    private let goldenPaths = GoldenClaims()

    public init(configuration: TestRunConfiguration, logger: Logger = TestRunner.quietLogger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A logger that only reports errors, so server logs do not mix with test output.
    public static var quietLogger: Logger {
        var logger = Logger(label: "tapedeck.test")
        logger.logLevel = .critical
        return logger
    }

    /// Scenario files under `paths` that have tests: files as given, directories searched recursively
    /// for `.yaml`/`.yml` files with a top-level `tests:` key. Sorted, so runs are reproducible.
    public static func findFiles(_ paths: [String]) -> [String] {
        var out: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                out.append(path)
                continue
            }
            let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
                .filter { file in
                    guard let text = try? String(contentsOf: URL(fileURLWithPath: file), encoding: .utf8) else { return false }
                    return text.split(separator: "\n").contains { $0.hasPrefix("tests:") }
                }
            out += found.sorted()
        }
        return out
    }

    /// Runs every selected test of one file.
    public func run(file: String) async -> FileResult {
        let start = ContinuousClock.now
        let scenario: Scenario
        do {
            scenario = try ScenarioLoader().load(file: file)
        } catch {
            return FileResult(file: file, error: error.description)
        }
        var result = await run(scenario: scenario)
        result.seconds = Self.seconds(ContinuousClock.now - start)
        return result
    }

    /// Runs every selected test of a loaded scenario.
    public func run(scenario: Scenario) async -> FileResult {
        var result = FileResult(file: scenario.file, scenario: scenario.name)
        let world: SimulatorWorld
        do {
            world = try SimulatorWorld(scenarios: [scenario])
        } catch {
            result.error = error.description
            return result
        }
        let authenticator: Authenticator
        do {
            authenticator = try await Authenticator(secret: configuration.jwtSecret)
        } catch {
            result.error = error.description
            return result
        }
        let profile = world.entry(for: scenario.profile)?.profile
        let codec: ProtobufCodec? = profile.flatMap {
            guard case .protobuf(let descriptor, let message) = $0.codec else { return nil }
            return try? ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
        }
        let decode: @Sendable ([UInt8]) -> Value = { bytes in
            if let codec, let v = try? codec.decode(bytes) { return v }
            return .string(Data(bytes).base64EncodedString())
        }
        var encode: (@Sendable (Value) -> [UInt8]?)?
        if let codec {
            encode = { value in
                do { return try codec.encode(value) } catch { return nil }
            }
        }
        var golden: GoldenRun?
        if let goldenConfiguration = configuration.golden, configuration.target == nil {
            let path = (goldenConfiguration.path(for: scenario) as NSString).standardizingPath
            if let other = goldenPaths.claim(path, for: scenario.file) {
                result.error = "\(scenario.file): its golden recording \(path) is already the one of \(other); give the scenarios different names, or run them separately"
                return result
            }
            do {
                golden = try await GoldenRun.start(configuration: goldenConfiguration, scenario: scenario, world: world, logger: logger)
            } catch {
                result.error = "cannot record the run for the golden comparison: \(error)"
                return result
            }
        }
        for test in scenario.tests {
            if let filter = configuration.filter, !filter.isEmpty, !test.name.localizedCaseInsensitiveContains(filter) { continue }
            if let reason = test.skip ?? (configuration.target != nil ? test.skipTarget.map { "not against --target: \($0)" } : nil) {
                result.results.append(TestResult(name: test.name, location: test.location, outcome: .skipped(reason), seconds: 0, scenarioSeconds: 0))
                continue
            }
            let started = ContinuousClock.now
            var scenarioSeconds = 0.0
            let failure: TestFailure?
            do {
                if let target = configuration.target {
                    let time = RealTestTime()
                    var script = TestScript(
                        test: test, scenario: scenario, endpoint: .init(host: target.host, port: target.port), time: time,
                        authenticator: authenticator, decodeBinary: decode, encodeBinary: encode)
                    failure = await script.run()
                    scenarioSeconds = Self.seconds(time.now)
                } else {
                    let outcome =
                        if let golden {
                            try await golden.record(test: test.name) { tap in
                                try await inProcess(
                                    test: test, scenario: scenario, world: world, authenticator: authenticator, decode: decode, encode: encode, tap: tap)
                            }
                        } else {
                            try await inProcess(
                                test: test, scenario: scenario, world: world, authenticator: authenticator, decode: decode, encode: encode, tap: nil)
                        }
                    failure = outcome.failure
                    scenarioSeconds = outcome.scenarioSeconds
                }
            } catch {
                failure = TestFailure(location: test.location, step: "start", message: "cannot start the simulator: \(error)")
            }
            result.results.append(
                TestResult(
                    name: test.name, location: test.location, outcome: failure.map { .failed($0) } ?? .passed,
                    seconds: Self.seconds(ContinuousClock.now - started), scenarioSeconds: scenarioSeconds))
        }
        if let golden { result.results.append(await golden.finish(scenario: scenario, results: result.results)) }
        return result
    }

    /// Runs one test against a fresh in-process simulator on the manual clock.
    private func inProcess(
        test: ScenarioTest, scenario: Scenario, world: SimulatorWorld, authenticator: Authenticator,
        decode: @escaping @Sendable ([UInt8]) -> Value, encode: (@Sendable (Value) -> [UInt8]?)?, tap: GoldenTap?
    ) async throws -> (failure: TestFailure?, scenarioSeconds: Double) {
        let clock = scenario.epoch.map { ManualClock(wallOrigin: $0) } ?? ManualClock()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let probe = SimulatorProbe()
        let server = SimulatorServer(
            world: world, configuration: .init(host: "127.0.0.1", port: 0, jwtSecret: configuration.jwtSecret), clock: clock, logger: logger,
            tap: tap, probe: probe
        ) { _, port in continuation.yield(port) }
        let group = ServiceGroup(services: [server], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await group.run()
                continuation.finish()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.waitForAll()
                throw TestConnectionError(message: "the simulator stopped before it listened")
            }
            let time = ManualTestTime(clock: clock, probe: probe, patience: tap == nil ? 1 : 10)
            var script = TestScript(
                test: test, scenario: scenario, endpoint: .init(host: "127.0.0.1", port: port), time: time, authenticator: authenticator,
                decodeBinary: decode, encodeBinary: encode)
            let failure = await script.run()
            await tap?.seal()
            let elapsed = clock.elapsed
            await group.triggerGracefulShutdown()
            // Timers still asleep on the manual clock end with the shutdown; move time so none waits.
            let stopper = Task {
                while !Task.isCancelled {
                    clock.advance(by: .seconds(1))
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            defer { stopper.cancel() }
            try await tasks.waitForAll()
            return (failure, Self.seconds(elapsed))
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
