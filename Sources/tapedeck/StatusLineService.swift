import Foundation
import ServiceLifecycle
import TapedeckServer

/// `serve` on a terminal: every few seconds, one line on stderr with the connections, the events
/// sent, the drops and the schedule's lag, and a warning when the schedule falls behind.
struct StatusLineService: Service {
    let server: SimulatorServer
    var every: Duration = .seconds(5)

    func run() async throws {
        var last: SimulatorServer.Status?
        let every = self.every
        let interval = Double(every.components.seconds) + Double(every.components.attoseconds) / 1e18
        while !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: every) } } catch { return }
            guard !Task.isShuttingDownGracefully, let s = server.status() else { continue }
            let rate = last.map { Double(s.eventsSent - $0.eventsSent) / interval } ?? Double(s.eventsSent) / interval
            last = s
            var text = s.line(rate: rate) + "\n"
            if let warning = s.behindWarning() { text += warning + "\n" }
            FileHandle.standardError.write(Data(text.utf8))
        }
    }
}
