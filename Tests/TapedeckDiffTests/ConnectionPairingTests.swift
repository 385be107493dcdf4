import TapedeckCore
@testable import TapedeckRecording
import Testing
@testable import TapedeckDiff

@Suite struct ConnectionPairingTests {
    func conn(_ id: Int64, _ path: String, query: String? = nil, headers: [HeaderField] = [], status: Int? = 101, close: ConnectionClose = ConnectionClose()) -> StoredConnection {
        StoredConnection(id: ConnectionID(rawValue: id), info: ConnectionInfo(path: path, query: query, requestHeaders: headers, upgradeStatus: status), close: close)
    }

    @Test func connectionsPairByPathAndOrder() {
        let a = [conn(1, "/a"), conn(2, "/b"), conn(3, "/a")]
        let b = [conn(1, "/b"), conn(2, "/a"), conn(3, "/a"), conn(4, "/c")]
        let pairs = ConnectionMatch.pathAndOrder.pair(a, b).map { ($0.expected?.id.rawValue, $0.actual?.id.rawValue) }
        #expect(pairs.map(\.0) == [1, 2, 3, nil])
        #expect(pairs.map(\.1) == [2, 1, 3, 4])
    }

    @Test func aHeaderOrQueryValueCanDecideThePairing() throws {
        let a = [conn(1, "/ws", query: "user=alice"), conn(2, "/ws", query: "user=bob")]
        let b = [conn(1, "/ws", query: "user=bob"), conn(2, "/ws", query: "user=alice")]
        let byQuery = try ConnectionMatch(parsing: "query:user").pair(a, b).map { $0.actual?.id.rawValue }
        #expect(byQuery == [2, 1])
        let ha = [conn(1, "/ws", headers: [HeaderField("X-Session", "s1")]), conn(2, "/ws", headers: [HeaderField("X-Session", "s2")])]
        let hb = [conn(7, "/ws", headers: [HeaderField("x-session", "s2")]), conn(8, "/ws", headers: [HeaderField("X-Session", "s1")])]
        #expect(try ConnectionMatch(parsing: "header:X-Session").pair(ha, hb).map { $0.actual?.id.rawValue } == [8, 7])
        #expect(throws: DiffError.self) { try ConnectionMatch(parsing: "cookie:x") }
    }

    @Test func upgradeSubprotocolAndCloseDifferencesAreFound() {
        var e = conn(1, "/ws", close: ConnectionClose(clientCode: 1000, serverCode: 1000, serverReason: "bye"))
        e.info.subprotocol = "v1"
        var a = conn(1, "/ws", status: 101, close: ConnectionClose(clientCode: 1000, serverCode: 4001, serverReason: "bye"))
        a.info.subprotocol = "v2"
        let found = ConnectionHeaderComparison.findings(expected: e, actual: a, rules: DiffRules())
        #expect(found.map(\.kind) == [.subprotocol, .closeCode])
        #expect(found.last?.expected == 1000 && found.last?.actual == 4001)

        let refused = conn(1, "/ws", status: 401)
        #expect(ConnectionHeaderComparison.findings(expected: e, actual: refused, rules: DiffRules()).first?.kind == .upgradeStatus)

        let reason = conn(1, "/ws", close: ConnectionClose(clientCode: 1000, serverCode: 1000, serverReason: "later"))
        var same = e
        same.info.subprotocol = nil
        #expect(ConnectionHeaderComparison.findings(expected: same, actual: reason, rules: DiffRules()).map(\.kind) == [.closeReason])
    }
}
