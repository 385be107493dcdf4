import TapedeckCore
import TapedeckProtocol

/// Answers a profile's `activity` REST endpoint: the same auth as its WebSocket endpoints, then
/// the recent events the profile's `filter` lets this caller see.
struct ActivityEndpoint: Sendable {
    let entry: SimulatorWorld.ProfileEntry
    let spec: ActivitySpec
    let log: ActivityLog
    let authenticator: Authenticator
    let clock: any SimulationClock

    /// The status and JSON body for a request.
    func respond(to request: UpgradeRequest) async -> (Int, Value) {
        let outcome = await authenticator.authenticate(
            request, profile: entry.profile, endpoint: spec.path, entities: entry.entities, settings: entry.settings,
            now: clock.wallTime)
        switch outcome {
        case .refused(let status, let body, _, _):
            return (status, body)
        case .accepted(let conn):
            var ctx = EvaluationContext(
                variables: ["conn": conn, "request": request.value, "settings": entry.settings, "entities": entry.entities, "item": .null],
                now: clock.wallTime)
            do {
                var items: [Value] = []
                for item in log.snapshot {
                    let v = item.value
                    ctx.variables["item"] = v
                    if try spec.filter?.evaluate(in: &ctx).isTruthy ?? true { items.append(v) }
                }
                ctx.variables["items"] = .array(items)
                return (200, try spec.respond.evaluate(in: &ctx))
            } catch {
                return (400, ["error": "bad request", "message": .string(error.message)])
            }
        }
    }
}
