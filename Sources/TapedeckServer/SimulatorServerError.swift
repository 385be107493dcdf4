/// Why the simulator could not run.
public struct SimulatorServerError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable {
        case cannotListen(address: String, reason: String)
    }

    private let kind: Kind

    /// The server could not listen on `host:port` (the port is in use, the address is not local, ...).
    public static func cannotListen(host: String, port: Int, reason: String) -> Self {
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return Self(kind: .cannotListen(address: shown, reason: reason))
    }

    public var description: String {
        switch kind {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        }
    }
}
