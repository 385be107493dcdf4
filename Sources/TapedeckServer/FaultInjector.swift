import TapedeckCore
import TapedeckScenario

/// Carries out a fault, from the control API (`POST /_tapedeck/faults`) or a scenario's `faults:`:
/// `close`, `reset`, `stall` on the selected connections, `refuse_upgrades` for new ones.
struct FaultInjector: Sendable {
    typealias Failure = ControlAPI.Failure

    let hub: Hub
    let gate: UpgradeGate

    /// The connections a selector (`to`) names, with what they are now; every connection without one.
    func select(_ selector: Value?) async throws -> [(SimulatorConnection, ConnectionSnapshot)] {
        let s = try ConnectionSelector(selector)
        var out: [(SimulatorConnection, ConnectionSnapshot)] = []
        for c in hub.allConnections {
            guard s.path == nil || s.path == c.path, s.profile == nil || s.profile == c.profileName, s.connection == nil || s.connection == c.id else {
                continue
            }
            guard let snap = await c.snapshot() else { continue }
            if let user = s.user, snap.user != user { continue }
            if let tenant = s.tenant, snap.tenant != tenant { continue }
            out.append((c, snap))
        }
        return out
    }

    /// Applies the fault `body` describes; returns what it applied to. Throws ``ControlAPI/Failure`` on a bad field.
    func apply(_ body: Value) async throws -> Value {
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
            let targets = try await select(body["to"])
            for (c, _) in targets { c.stall(for: duration) }
            return ["kind": "stall", "seconds": body["seconds"]!, "connections": .array(targets.map { .int($0.0.id) })]
        case "drop", "duplicate":
            let duration = try Self.seconds(body)
            guard let percent = body["percent"]?.doubleValue, percent > 0, percent <= 100 else {
                throw Failure.badRequest("'percent' is required: the share of events to \(kind == "drop" ? "drop" : "send twice"), more than 0 and at most 100")
            }
            let targets = try await select(body["to"])
            let share = percent / 100
            for (c, _) in targets { c.eventFault(drop: kind == "drop" ? share : 0, duplicate: kind == "duplicate" ? share : 0, for: duration) }
            return ["kind": .string(kind), "percent": .double(percent), "seconds": body["seconds"]!, "connections": .array(targets.map { .int($0.0.id) })]
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

    /// A fault's `seconds` (more than 0, at most a day).
    static func seconds(_ body: Value) throws -> Duration {
        guard let s = body["seconds"]?.doubleValue, s > 0, s <= 86_400 else {
            throw Failure.badRequest("'seconds' is required: how long, more than 0 (e.g. {\"seconds\": 5})")
        }
        return .nanoseconds(Int64((s * 1e9).rounded()))
    }
}
