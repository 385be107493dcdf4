import TapedeckCore
import TapedeckScenario

/// Carries out a fault, from the control API (`POST /_tapedeck/faults`) or a scenario's `faults:`:
/// `close`, `reset`, `stall`, `drop`, `duplicate`, `reorder`, `corrupt`, `delay`, `bandwidth` on the
/// selected connections, `refuse_upgrades` for new ones.
struct FaultInjector: Sendable {
    typealias Failure = ControlAPI.Failure

    let hub: Hub
    let gate: UpgradeGate

    /// The connections a selector (`to`) names, with what they are now; every connection without
    /// one. With `only` (a connection's own timeline), that connection if it matches.
    func select(_ selector: Value?, only: SimulatorConnection? = nil) async throws -> [(SimulatorConnection, ConnectionSnapshot)] {
        let s = try ConnectionSelector(selector)
        let candidates = (only.map { [$0] } ?? hub.allConnections).filter { c in
            (s.path == nil || s.path == c.path) && (s.profile == nil || s.profile == c.profileName)
                && (s.connection == nil || s.connection == c.id)
        }
        // Each snapshot is taken on its connection's event loop: all at once, not one after another,
        // so that a fault on many connections is carried out (and the timeline goes on) promptly.
        let snapshots = await withTaskGroup(of: (Int, ConnectionSnapshot?).self) { group in
            for (i, c) in candidates.enumerated() { group.addTask { (i, await c.snapshot()) } }
            var all = [ConnectionSnapshot?](repeating: nil, count: candidates.count)
            for await (i, snap) in group { all[i] = snap }
            return all
        }
        return zip(candidates, snapshots).compactMap { c, snap in
            guard let snap else { return nil }
            if let user = s.user, snap.user != user { return nil }
            if let tenant = s.tenant, snap.tenant != tenant { return nil }
            return (c, snap)
        }
    }

    /// Applies the fault `body` describes; returns what it applied to. Throws ``ControlAPI/Failure`` on a bad field.
    ///
    /// With `only` (a fault of a connection's own timeline), it applies to that connection alone,
    /// if its selector matches; `refuse_upgrades`, which is about new connections, applies as usual.
    func apply(_ body: Value, only: SimulatorConnection? = nil) async throws -> Value {
        let select = { (selector: Value?) in try await self.select(selector, only: only) }
        guard let kind = body["kind"]?.stringValue else {
            throw Failure.badRequest("'kind' is required: one of \(ScheduledFault.kinds.joined(separator: ", "))")
        }
        switch kind {
        case "close":
            let code = body["code"].map { $0.intValue ?? -1 } ?? 1001
            guard CloseCode.mayBeSent(code) else {
                throw Failure.badRequest("'code' \(code) cannot be sent in a close frame: use 1000-1003, 1007-1014 or 3000-4999 (e.g. 1001, 1011, 1012, 4000)")
            }
            let reason = body["reason"]?.stringValue ?? ""
            guard reason.utf8.count <= 123 else { throw Failure.badRequest("'reason' is at most 123 bytes of UTF-8") }
            let targets = try await select(body["to"])
            for (c, _) in targets { c.close(code: code, reason: reason) }
            return ["kind": "close", "code": .int(code), "connections": .array(targets.map { .int($0.0.id) })]
        case "reset":
            let targets = try await select(body["to"])
            for (c, _) in targets { c.reset() }
            return ["kind": "reset", "connections": .array(targets.map { .int($0.0.id) })]
        case "stall":
            let duration = try Self.seconds(body)
            let direction = body["direction"].map { $0.stringValue ?? "" } ?? "write"
            guard ScheduledFault.stallDirections.contains(direction) else {
                throw Failure.badRequest("'direction' must be one of \(ScheduledFault.stallDirections.joined(separator: ", ")) (default write)")
            }
            let targets = try await select(body["to"])
            for (c, _) in targets { c.stall(for: duration, reading: direction != "write", writing: direction != "read") }
            return [
                "kind": "stall", "seconds": body["seconds"]!, "direction": .string(direction), "connections": .array(targets.map { .int($0.0.id) }),
            ]
        case "drop", "duplicate", "reorder":
            let duration = try Self.seconds(body)
            let percent = try Self.percent(body, kind: kind)
            let targets = try await select(body["to"])
            let share = percent / 100
            let fault: MessageFault = switch kind {
            case "drop": .drop(share: share)
            case "duplicate": .duplicate(share: share)
            default: .reorder(share: share)
            }
            for (c, _) in targets { c.messageFault(fault, for: duration) }
            return ["kind": .string(kind), "percent": .double(percent), "seconds": body["seconds"]!, "connections": .array(targets.map { .int($0.0.id) })]
        case "corrupt":
            var count: Int?
            if let n = body["count"] {
                guard let c = n.intValue, c >= 1 else { throw Failure.badRequest("'count' must be a whole number of events, at least 1") }
                count = c
            }
            // With a count, the share defaults to every event and the time to a day.
            let duration = count != nil && body["seconds"] == nil ? .seconds(86_400) : try Self.seconds(body)
            let percent = count != nil && body["percent"] == nil ? 100 : try Self.percent(body, kind: kind)
            let targets = try await select(body["to"])
            for (c, _) in targets { c.messageFault(.corrupt(share: percent / 100, count: count), for: duration) }
            var out: Value = ["kind": "corrupt", "percent": .double(percent), "connections": .array(targets.map { .int($0.0.id) })]
            if let s = body["seconds"] { out["seconds"] = s }
            if let count { out["count"] = .int(count) }
            return out
        case "delay":
            let duration = try Self.seconds(body)
            guard let ms = body["ms"]?.doubleValue, ms > 0, ms <= ScheduledFault.maxDelayMilliseconds else {
                throw Failure.badRequest("'ms' is required: how many milliseconds later each event leaves, more than 0 and at most 60000")
            }
            var jitter = 0.0
            if let j = body["jitter_ms"] {
                guard let v = j.doubleValue, v >= 0, v <= ms else { throw Failure.badRequest("'jitter_ms' must be from 0 to 'ms' (each event leaves ms ± jitter_ms later)") }
                jitter = v
            }
            let targets = try await select(body["to"])
            for (c, _) in targets { c.messageFault(.delay(milliseconds: ms, jitter: jitter), for: duration) }
            return [
                "kind": "delay", "ms": .double(ms), "jitter_ms": .double(jitter), "seconds": body["seconds"]!,
                "connections": .array(targets.map { .int($0.0.id) }),
            ]
        case "bandwidth":
            let duration = try Self.seconds(body)
            guard let rate = body["bytes_per_second"]?.intValue, ScheduledFault.bandwidthRange.contains(rate) else {
                throw Failure.badRequest("'bytes_per_second' is required: the cap, a whole number from 1 to 1000000000 (e.g. 2048)")
            }
            let targets = try await select(body["to"])
            for (c, _) in targets { c.bandwidth(bytesPerSecond: rate, for: duration) }
            return [
                "kind": "bandwidth", "bytes_per_second": .int(rate), "seconds": body["seconds"]!, "connections": .array(targets.map { .int($0.0.id) }),
            ]
        case "refuse_upgrades":
            let duration = try Self.seconds(body)
            let status = body["status"].map { $0.intValue ?? -1 } ?? 503
            guard (400...599).contains(status) else { throw Failure.badRequest("'status' must be an HTTP error status, 400 to 599 (e.g. 503, 429)") }
            var retryAfter: Int?
            if let r = body["retry_after"] {
                guard let n = r.intValue, n >= 0 else { throw Failure.badRequest("'retry_after' must be a whole number of seconds") }
                retryAfter = n
            }
            let selector = try ConnectionSelector(body["to"])
            guard selector.user == nil, selector.tenant == nil, selector.connection == nil else {
                throw Failure.badRequest("refuse_upgrades selects by 'path' and 'profile' only: who a client is is known only after its upgrade")
            }
            gate.refuse(for: duration, status: status, retryAfter: retryAfter, path: selector.path, profile: selector.profile)
            var out: Value = ["kind": "refuse_upgrades", "seconds": body["seconds"]!, "status": .int(status)]
            if let retryAfter { out["retry_after"] = .int(retryAfter) }
            return out
        default:
            throw Failure.badRequest("unknown fault kind '\(kind)': use one of \(ScheduledFault.kinds.joined(separator: ", "))")
        }
    }

    /// A fault's `percent` (more than 0, at most 100).
    static func percent(_ body: Value, kind: String) throws -> Double {
        guard let percent = body["percent"]?.doubleValue, percent > 0, percent <= 100 else {
            let what = switch kind {
            case "drop": "drop"
            case "duplicate": "send twice"
            case "reorder": "hold back and send after the next one"
            default: "corrupt"
            }
            throw Failure.badRequest("'percent' is required: the share of events to \(what), more than 0 and at most 100\(kind == "corrupt" ? " (or 'count': how many events)" : "")")
        }
        return percent
    }

    /// A fault's `seconds` (more than 0, at most a day).
    static func seconds(_ body: Value) throws -> Duration {
        guard let s = body["seconds"]?.doubleValue, s > 0, s <= 86_400 else {
            throw Failure.badRequest("'seconds' is required: how long, more than 0 (e.g. {\"seconds\": 5})")
        }
        return .nanoseconds(Int64((s * 1e9).rounded()))
    }
}
