import Logging
import ServiceLifecycle

/// Plays the shared timeline and, on graceful shutdown, closes every connection with 1001 (going
/// away) and waits a moment for them to go.
///
/// It runs after the HTTP application in the same `ServiceGroup`, so it is shut down before it:
/// clients see 1001 from the simulator, not the 1000 that hummingbird-websocket would send.
struct HubService: Service {
    let hub: Hub
    let scheduler: Scheduler
    let configuration: SimulatorConfiguration
    let logger: Logger
    /// A recording the control API started is finished once the clients are gone.
    let recording: RecordingControl?

    func run() async throws {
        let shared = configuration.timeline == .shared
        let scheduler = self.scheduler
        await withTaskGroup(of: Void.self) { group in
            // The timeline, which never ends by itself (the connections outlive it)...
            group.addTask {
                if shared { await scheduler.runShared() }
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(3600)) } catch { return }
                }
            }
            // ...until the graceful shutdown (or cancellation) comes.
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            // Clients are closed first, which also frees a timeline waiting for room in a queue.
            if !Task.isCancelled { logger.info("shutting down", metadata: ["connections": "\(hub.connectionCount)"]) }
            hub.closeAll(code: 1001, reason: "server shutting down")
            group.cancelAll()
        }
        await hub.waitUntilEmpty(timeout: .seconds(3))
        await recording?.stopIfRunning()
    }
}

extension HubService: CustomStringConvertible {
    /// Its name only: service-lifecycle logs services at debug level, and the configuration it
    /// holds carries secrets (the JWT secret, the scenario's credentials).
    var description: String { "HubService" }
}
