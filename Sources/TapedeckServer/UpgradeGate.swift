import Synchronization
import TapedeckCore

/// The `refuse_upgrades` fault: until a deadline of the simulation clock, upgrades (all, or those
/// matching a path or profile) are refused with a status (503, 429) and an optional `Retry-After`.
final class UpgradeGate: Sendable {
    struct Rule: Sendable {
        var until: Duration
        var status: Int
        var retryAfter: Int?
        var path: String?
        var profile: String?
    }

    private let rules = Mutex<[Rule]>([])
    let clock: any SimulationClock

    init(clock: any SimulationClock) { self.clock = clock }

    /// Refuses matching upgrades for `duration` from now.
    func refuse(for duration: Duration, status: Int, retryAfter: Int?, path: String?, profile: String?) {
        let rule = Rule(until: clock.elapsed + duration, status: status, retryAfter: retryAfter, path: path, profile: profile)
        rules.withLock { $0.append(rule) }
    }

    /// The rule refusing an upgrade to `path` for `profile` now, if any.
    func refusal(path: String, profile: String) -> Rule? {
        let now = clock.elapsed
        return rules.withLock { rules in
            rules.removeAll { $0.until <= now }
            return rules.first { ($0.path == nil || $0.path == path) && ($0.profile == nil || $0.profile == profile) }
        }
    }
}
