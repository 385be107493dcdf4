import ServiceLifecycle
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the HTTP application, and turns a failure to listen into a ``SimulatorServerError`` that
/// names the address.
struct ListenerService: Service {
    let app: any Service
    let listening: ListeningFlag
    let host: String
    let port: Int

    func run() async throws {
        do {
            try await app.run()
        } catch {
            guard !listening.value else { throw error }
            let reason: String =
                if let io = error as? IOError { String(cString: strerror(io.errnoCode)).lowercased() } else { "\(error)" }
            throw SimulatorServerError.cannotListen(host: host, port: port, reason: reason)
        }
    }
}

/// Set once the server listens.
final class ListeningFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}

extension ListenerService: CustomStringConvertible {
    var description: String { "ListenerService(\(host):\(port))" }
}
