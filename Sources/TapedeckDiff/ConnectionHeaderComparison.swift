import TapedeckCore
import TapedeckRecording

/// Compares what is known about two connections outside their messages: the upgrade answer, the
/// subprotocol, and each side's close code and reason.
enum ConnectionHeaderComparison {
    static func findings(expected e: StoredConnection, actual a: StoredConnection, rules: DiffRules) -> [DiffFinding] {
        var out: [DiffFinding] = []
        if e.info.upgradeStatus != a.info.upgradeStatus {
            out.append(DiffFinding(kind: .upgradeStatus, expected: int(e.info.upgradeStatus), actual: int(a.info.upgradeStatus)))
        } else if let status = e.info.upgradeStatus, status != 101, e.info.responseBody != a.info.responseBody {
            // A refused upgrade: its body is the server's answer, compared like a message.
            let body = MessageDecoder()
            let diffs = differences(
                expected: body.body(opcode: .text, payload: e.info.responseBody, decoded: nil),
                actual: body.body(opcode: .text, payload: a.info.responseBody, decoded: nil), rules: rules)
            for d in diffs {
                out.append(DiffFinding(kind: .upgradeStatus, path: d.path, expected: d.expected, actual: d.actual, detail: "refusal body: \(d.kind.rawValue)"))
            }
        }
        if e.info.subprotocol != a.info.subprotocol {
            out.append(DiffFinding(kind: .subprotocol, expected: string(e.info.subprotocol), actual: string(a.info.subprotocol)))
        }
        for (side, ec, ac, er, ar) in [
            ("server", e.close.serverCode, a.close.serverCode, e.close.serverReason, a.close.serverReason),
            ("client", e.close.clientCode, a.close.clientCode, e.close.clientReason, a.close.clientReason),
        ] {
            if ec != ac {
                out.append(DiffFinding(kind: .closeCode, expected: int(ec), actual: int(ac), detail: "sent by the \(side)"))
            } else if (er ?? "") != (ar ?? ""), !rules.areEquivalent(er ?? "", ar ?? "") {
                out.append(DiffFinding(kind: .closeReason, expected: string(er), actual: string(ar), detail: "sent by the \(side)"))
            }
        }
        return out
    }

    static func int(_ v: Int?) -> Value { v.map { .int($0) } ?? .null }
    static func string(_ v: String?) -> Value { v.map { .string($0) } ?? .null }
}
