/// Which browser origins may open a WebSocket: `--allow-origin` on `serve` and `record`.
///
/// With an empty list every request goes on. With a list, a request whose `Origin` is not in it
/// (compared without regard to case) is refused with 403. A request without `Origin` does not come
/// from a browser page and always goes on: the list protects users' browsers from other sites
/// (cross-site WebSocket hijacking), it is not authentication.
public struct OriginPolicy: Sendable, Equatable {
    public var allowed: [String]

    public init(allowed: [String] = []) {
        self.allowed = allowed
    }

    /// Whether a request with this `Origin` header (nil: none) may go on.
    public func allows(_ origin: String?) -> Bool {
        guard !allowed.isEmpty, let origin else { return true }
        let wanted = origin.lowercased()
        return allowed.contains { $0.lowercased() == wanted }
    }
}
