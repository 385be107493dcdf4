/// What `serve --conformance` and `tapedeck conformance` report: every client seen, per rule.
public struct ConformanceReport: Sendable, Hashable {
    /// Where the observations came from (`serve`, or the recording's path).
    public var source: String
    /// Simulation seconds observed.
    public var duration: Double
    public var clients: [ClientResult]

    public init(source: String, duration: Double, clients: [ClientResult]) {
        self.source = source
        self.duration = duration
        self.clients = clients
    }

    /// Whether no client failed a rule.
    public var passed: Bool { clients.allSatisfy { $0.status != .fail } }

    /// How many rule results have each status, over all clients.
    public var counts: (pass: Int, fail: Int, notExercised: Int) {
        let all = clients.flatMap(\.rules)
        return (all.count { $0.status == .pass }, all.count { $0.status == .fail }, all.count { $0.status == .notExercised })
    }
}
