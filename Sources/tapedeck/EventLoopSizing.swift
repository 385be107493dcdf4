import Foundation
import NIOCore

/// Sizes NIO's shared event loop group to the CPUs this process may run on.
///
/// NIO sizes its singleton group from the CPUs online, so `taskset -c 0 tapedeck serve` would still
/// start one event loop per core of the machine, all taking turns on the one core it may use.
enum EventLoopSizing {
    /// Call before anything uses `MultiThreadedEventLoopGroup.singleton`.
    static func fitToAffinity() {
        guard let allowed = allowedCPUs(), allowed > 0, allowed < System.coreCount else { return }
        NIOSingletons.groupLoopCountSuggestion = allowed
    }

    /// The number of CPUs in this process's affinity mask (`Cpus_allowed_list` of
    /// `/proc/self/status`, e.g. `0` or `0-3,6`), or nil when it cannot be read.
    static func allowedCPUs() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return count(list: line.dropFirst("Cpus_allowed_list:".count))
    }

    /// Counts the CPUs of a kernel CPU list such as `0-3,6`.
    static func count(list: Substring) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.trimmingCharacters(in: .whitespaces).split(separator: "-")
            guard let low = bounds.first.flatMap({ Int($0) }), let high = bounds.count == 2 ? Int(bounds[1]) : low, high >= low
            else { return nil }
            total += high - low + 1
        }
        return total > 0 ? total : nil
    }
}
