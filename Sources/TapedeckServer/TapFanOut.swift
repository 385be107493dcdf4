/// Hands every tap call to several taps in turn (`serve --record` with `--conformance`).
public struct TapFanOut: SimulatorTap {
    public let taps: [any SimulatorTap]

    public init(_ taps: [any SimulatorTap]) { self.taps = taps }

    public func opened(_ connection: TappedConnection) async {
        for t in taps { await t.opened(connection) }
    }

    public func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
        for t in taps { await t.frame(connection: connection, fromClient: fromClient, frame) }
    }

    public func closed(connection: Int, code: Int?, reason: String?) async {
        for t in taps { await t.closed(connection: connection, code: code, reason: reason) }
    }

    public func refused(_ refusal: TappedRefusal) async {
        for t in taps { await t.refused(refusal) }
    }

    public func http(_ request: TappedHTTPRequest) async {
        for t in taps { await t.http(request) }
    }
}
