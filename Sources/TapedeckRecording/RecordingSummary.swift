public import TapedeckCore
import OrderedCollections
import Foundation

/// A summary of a recording: what `tapedeck inspect` shows.
public struct RecordingSummary: Sendable {
    public struct ConnectionSummary: Sendable {
        public var id: Int64
        public var path: String
        public var upgradeStatus: Int?
        public var peer: String?
        /// The subprotocol and the extensions (permessage-deflate and its parameters) agreed at the upgrade.
        public var subprotocol: String?
        public var extensions: String?
        public var framesClientToServer = 0
        public var framesServerToClient = 0
        public var clientClose: (code: Int?, reason: String?)
        public var serverClose: (code: Int?, reason: String?)
        public var durationNanos: Int64?
    }

    public var recording: StoredRecording
    public var connections: [ConnectionSummary]
    public var frameCount = 0
    public var bytes = 0
    public var byDirection: OrderedDictionary<String, Int> = [:]
    public var byOpcode: OrderedDictionary<String, Int> = [:]
    /// Messages by their decoded `type` (or `action`) field.
    public var byType: OrderedDictionary<String, Int> = [:]
    public var durationNanos: Int64 = 0
    /// Frames per time bucket over the recording's duration.
    public var rateBuckets: [Int] = []

    /// Reads and summarises the recording at `path`, streaming its frames.
    public init(path: String, buckets: Int = 48) throws {
        let reader = try RecordingReader(path: path)
        recording = try reader.recording()
        let stored = try reader.connections()
        var index: [Int64: Int] = [:]
        connections = stored.enumerated().map { n, c in
            index[c.id.rawValue] = n
            var duration: Int64?
            if let opened = c.info.openedAt, let closed = c.close.closedAt {
                duration = closed.offsetNanos - opened.offsetNanos
            }
            return ConnectionSummary(
                id: c.id.rawValue, path: c.info.path, upgradeStatus: c.info.upgradeStatus, peer: c.info.peer,
                subprotocol: c.info.subprotocol, extensions: c.info.extensions,
                clientClose: (c.close.clientCode, c.close.clientReason),
                serverClose: (c.close.serverCode, c.close.serverReason), durationNanos: duration)
        }
        var lastOffset: Int64 = stored.compactMap { $0.close.closedAt?.offsetNanos }.max() ?? 0
        var offsets: [Int64] = []
        try reader.forEachFrame { f in
            frameCount += 1
            bytes += f.frame.payload.count
            byDirection[f.frame.direction.rawValue, default: 0] += 1
            byOpcode[f.frame.opcode.rawValue, default: 0] += 1
            if let i = index[f.frame.connection.rawValue] {
                if f.frame.direction == .clientToServer {
                    connections[i].framesClientToServer += 1
                } else {
                    connections[i].framesServerToClient += 1
                }
            }
            if let d = f.frame.decoded, let t = Self.messageType(d) {
                byType[t, default: 0] += 1
            }
            let offset = f.frame.timestamp?.offsetNanos ?? 0
            offsets.append(offset)
            lastOffset = max(lastOffset, offset)
        }
        durationNanos = lastOffset
        let n = max(1, buckets)
        rateBuckets = Array(repeating: 0, count: n)
        if !offsets.isEmpty {
            let span = max(lastOffset, 1)
            for o in offsets {
                let b = min(n - 1, Int(Double(o) / Double(span) * Double(n)))
                rateBuckets[max(0, b)] += 1
            }
        }
    }

    /// The message type of a decoded value: its `type` field, else its `action` field.
    public static func messageType(_ value: Value) -> String? {
        if let t = value["type"]?.stringValue {
            if let a = value["action"]?.stringValue { return "\(t)/\(a)" }
            return t
        }
        return value["action"]?.stringValue
    }

    /// The message rate as a sparkline (`▁▂▃▄▅▆▇█`), one character per bucket.
    public var sparkline: String { Self.sparkline(rateBuckets) }

    public static func sparkline(_ counts: [Int]) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        guard let top = counts.max(), top > 0 else { return String(repeating: " ", count: counts.count) }
        var out = ""
        for c in counts {
            if c == 0 {
                out.append(" ")
            } else {
                let level = Int((Double(c) / Double(top) * 8).rounded(.up)) - 1
                out.append(bars[min(7, max(0, level))])
            }
        }
        return out
    }

    /// The machine-readable form (`inspect --json`).
    public var json: Value {
        var o: OrderedDictionary<String, Value> = [:]
        let m = recording.metadata
        o["name"] = .string(m.name)
        o["tool_version"] = .string(m.toolVersion)
        o["upstream"] = m.upstream.map(Value.string) ?? .null
        o["scenario"] = m.scenario.map(Value.string) ?? .null
        o["profile"] = m.profile.map(Value.string) ?? .null
        o["tags"] = .array(m.tags.map(Value.string))
        o["started_at_ns"] = .int(Int(recording.startedAtNanos))
        o["duration_ms"] = .double(Double(durationNanos) / 1e6)
        o["frames"] = .int(frameCount)
        o["bytes"] = .int(bytes)
        o["by_direction"] = .object(byDirection.mapValues { .int($0) })
        o["by_opcode"] = .object(byOpcode.mapValues { .int($0) })
        o["by_type"] = .object(byType.mapValues { .int($0) })
        o["rate"] = .array(rateBuckets.map { .int($0) })
        o["sparkline"] = .string(sparkline)
        o["connections"] = .array(connections.map(Self.connectionJSON))
        return .object(o)
    }

    private static func connectionJSON(_ c: ConnectionSummary) -> Value {
        var o: OrderedDictionary<String, Value> = [:]
        o["id"] = .int(Int(c.id))
        o["path"] = .string(c.path)
        o["upgrade_status"] = c.upgradeStatus.map { .int($0) } ?? .null
        o["peer"] = c.peer.map(Value.string) ?? .null
        o["subprotocol"] = c.subprotocol.map(Value.string) ?? .null
        o["extensions"] = c.extensions.map(Value.string) ?? .null
        o["frames_c2s"] = .int(c.framesClientToServer)
        o["frames_s2c"] = .int(c.framesServerToClient)
        o["client_close_code"] = c.clientClose.code.map { .int($0) } ?? .null
        o["client_close_reason"] = c.clientClose.reason.map(Value.string) ?? .null
        o["server_close_code"] = c.serverClose.code.map { .int($0) } ?? .null
        o["server_close_reason"] = c.serverClose.reason.map(Value.string) ?? .null
        o["duration_ms"] = c.durationNanos.map { .double(Double($0) / 1e6) } ?? .null
        return .object(o)
    }

    /// The human-readable form.
    public var text: String {
        var lines: [String] = []
        let m = recording.metadata
        lines.append("recording  \(m.name)  (\(m.toolVersion))")
        if let u = m.upstream { lines.append("upstream   \(u)") }
        if let s = m.scenario { lines.append("scenario   \(s)") }
        if let p = m.profile { lines.append("profile    \(p)") }
        if !m.tags.isEmpty { lines.append("tags       \(m.tags.joined(separator: ", "))") }
        lines.append("duration   \(Self.formatDuration(durationNanos))")
        lines.append("frames     \(frameCount) (\(bytes) payload bytes)")
        lines.append("rate       |\(sparkline)|")
        func table(_ title: String, _ d: OrderedDictionary<String, Int>) {
            guard !d.isEmpty else { return }
            lines.append("")
            lines.append(title)
            for (k, v) in d.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                lines.append("  \(k.padding(toLength: max(24, k.count), withPad: " ", startingAt: 0)) \(v)")
            }
        }
        table("by direction", byDirection)
        table("by opcode", byOpcode)
        table("by message type", byType)
        lines.append("")
        lines.append("connections (\(connections.count))")
        for c in connections {
            let status = c.upgradeStatus.map(String.init) ?? "-"
            func close(_ x: (code: Int?, reason: String?)) -> String {
                guard let code = x.code else { return "-" }
                return x.reason.map { $0.isEmpty ? "\(code)" : "\(code) \"\($0)\"" } ?? "\(code)"
            }
            lines.append(
                "  #\(c.id) \(c.path) status \(status)"
                    + (c.subprotocol.map { "  subprotocol \($0)" } ?? "") + (c.extensions.map { "  extensions \"\($0)\"" } ?? "")
                    + "  c2s \(c.framesClientToServer)  s2c \(c.framesServerToClient)"
                    + "  close client \(close(c.clientClose)) server \(close(c.serverClose))"
                    + (c.durationNanos.map { "  \(Self.formatDuration($0))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    static func formatDuration(_ ns: Int64) -> String {
        let ms = Double(ns) / 1e6
        if ms < 1000 { return String(format: "%.1f ms", ms) }
        return String(format: "%.2f s", ms / 1000)
    }
}
