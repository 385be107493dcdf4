import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckServer

/// Starting and stopping the simulator as a user sees it: a port in use is a clear error at once,
/// and a clean stop closes clients with 1001 and logs no error.
@Suite("Simulator start and shutdown")
struct ShutdownTests {
    static let scenario = """
        scenario: s
        profile: ops-control-center
        streams:
          - name: cpu
            every: 1s
            event: { type: metric, action: updated, data: { metric_name: cpu, value: 1 } }
        """

    @Test func aPortInUseFailsAtOnceNamingTheAddress() async throws {
        // Hold a port, then ask the simulator for it.
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { holder.close(promise: nil) }
        let port = try #require(holder.localAddress?.port)
        let world = try SimulatorWorld(scenarios: [ScenarioLoader().load(text: Self.scenario, file: "s.yaml")])
        let server = SimulatorServer(world: world, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        // It must end by itself (a hang is the bug): bounded by a timeout task.
        let outcome: String = try await withThrowingTaskGroup(of: String.self) { tasks in
            tasks.addTask {
                do {
                    try await group.run()
                    return "ran"
                } catch let error as SimulatorServerError {
                    return error.description
                }
            }
            tasks.addTask {
                try await Task.sleep(for: .seconds(20))
                return "hung"
            }
            let first = try await tasks.next()!
            tasks.cancelAll()
            return first
        }
        #expect(outcome.contains("cannot listen on 127.0.0.1:\(port)"))
        #expect(outcome.contains("in use"))
    }

    @Test func aCleanStopClosesClientsWith1001AndLogsNoError() async throws {
        let logs = CapturedLogs()
        var logger = Logger(label: "test") { _ in CapturingLogHandler(logs: logs) }
        logger.logLevel = .trace
        for round in 1...3 {
            let closeCode = CloseCodeBox()
            try await withSimulator(scenario: Self.scenario, speed: .factor(1), timeline: .shared, logger: logger) { port in
                let jwt = try await token(["sub": "qa"])
                Task {
                    let run = try await withClient(port: port, path: "/api/ws", headers: [.authorization: "Bearer \(jwt)"]) { client in
                        try await client.send(#"{"action":"subscribe","topics":["metrics"]}"#)
                        while try await client.next() != nil {}
                        return true
                    }
                    closeCode.set(run.closeCode)
                }
                // Wait until the client is connected and subscribed.
                while logs.messages.filter({ $0.contains("timeline started") }).count < round { try await Task.sleep(for: .milliseconds(10)) }
            }
            // withSimulator returns once the server has stopped; the client saw its close.
            for _ in 0..<200 where closeCode.value == nil { try await Task.sleep(for: .milliseconds(10)) }
            #expect(closeCode.value == 1001)
        }
        #expect(logs.errors == [])
    }
}

/// The close code a client saw.
final class CloseCodeBox: Sendable {
    private let code = Mutex<Int?>(nil)
    func set(_ c: Int?) { code.withLock { $0 = c } }
    var value: Int? { code.withLock { $0 } }
}

/// Log lines captured by a test.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])
    func append(_ level: Logger.Level, _ message: String) { lines.withLock { $0.append((level, message)) } }
    var messages: [String] { lines.withLock { $0.map(\.1) } }
    /// Lines at level error or above.
    var errors: [String] { lines.withLock { $0.filter { $0.0 >= .error }.map(\.1) } }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        logs.append(event.level, event.message.description)
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        logs.append(level, message.description)
    }
}
