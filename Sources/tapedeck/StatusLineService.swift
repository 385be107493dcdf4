import Foundation
import ServiceLifecycle
import TapedeckServer

/// `serve` on a terminal: every few seconds, one line on stderr with the connections, the events
/// sent, the drops and the schedule's lag, and a warning when the schedule falls behind.
struct StatusLineService: Service {
    let server: SimulatorServer
    var every: Duration = .seconds(5)
    /// A lag beyond this is a warning: events are due faster than they go out.
    var behind = 1.0

    func run() async throws {
        var last: SimulatorServer.Status?
        while !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: every) } } catch { return }
            guard !Task.isShuttingDownGracefully, let s = server.status() else { continue }
            let rate = last.map { Double(s.eventsSent - $0.eventsSent) / seconds(every) } ?? 0
            last = s
            FileHandle.standardError.write(Data((Self.line(s, rate: rate) + "\n").utf8))
            if s.lag > behind {
                FileHandle.standardError.write(
                    Data(String(format: "warning: the schedule is %.1f s behind: events are due faster than they can be sent\n", s.lag).utf8))
            }
        }
    }

    static func line(_ s: SimulatorServer.Status, rate: Double) -> String {
        String(
            format: "[status] %d connection%@, %d events sent (%.0f/s), %d dropped, lag %.0f ms%@", s.connections, s.connections == 1 ? "" : "s",
            s.eventsSent, rate, s.dropped, s.lag * 1000, s.paused ? ", paused" : "")
    }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
