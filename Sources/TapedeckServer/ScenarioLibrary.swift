import Synchronization
import TapedeckProtocol
import TapedeckCore
import TapedeckScenario

/// The scenarios the shared timeline plays, which the control API can add to and remove from
/// while the server runs.
///
/// The scenarios given at start are placed at scenario time 0; one loaded later is placed at the
/// shared timeline's scenario time at that moment, so its events start then. Its events are
/// rendered by the server's profiles: a scenario can only be loaded when every profile it uses is
/// served (the router's endpoints are fixed at start).
final class ScenarioLibrary: Sendable {
    /// A scenario on the shared timeline.
    struct Entry: Sendable {
        var id: Int
        var scenario: Scenario
        /// Where its scenario time 0 is on the shared timeline.
        var offset: Double
        /// The profiles it uses, by name.
        var profiles: [String]
        /// Profile references as its streams write them -> served profile names (`nil`: the
        /// server's own, for the scenarios given at start).
        var aliases: [String: String]?
        /// The profile of an event that names none.
        var defaultProfile: String?
        var loadedAtStart: Bool
    }

    /// Whether scenarios can be loaded and unloaded (a shared timeline; with one timeline per
    /// connection, what each plays is fixed when it connects).
    let mutable: Bool
    private let state: Mutex<(entries: [Entry], next: Int)>

    init(world: SimulatorWorld, mutable: Bool) {
        self.mutable = mutable
        var entries: [Entry] = []
        for (i, s) in world.scenarios.enumerated() {
            var refs = s.streams.compactMap(\.profile)
            if let p = s.profile { refs.append(p) }
            let names = Set(refs.compactMap { world.entry(for: $0)?.profile.name })
            entries.append(Entry(
                id: i + 1, scenario: s, offset: 0, profiles: world.profileOrder.filter(names.contains), aliases: nil, defaultProfile: nil,
                loadedAtStart: true))
        }
        state = Mutex((entries, entries.count + 1))
    }

    /// The scenarios played, in load order.
    var entries: [Entry] { state.withLock { $0.entries } }

    /// Whether a scenario of that name is played.
    func contains(_ name: String) -> Bool { state.withLock { s in s.entries.contains { $0.scenario.name == name } } }

    /// Adds a scenario at `offset`; `nil` when one of that name is already played.
    func add(_ scenario: Scenario, offset: Double, profiles: [String], aliases: [String: String], defaultProfile: String?) -> Entry? {
        state.withLock { s in
            guard !s.entries.contains(where: { $0.scenario.name == scenario.name }) else { return nil }
            let entry = Entry(
                id: s.next, scenario: scenario, offset: offset, profiles: profiles, aliases: aliases, defaultProfile: defaultProfile,
                loadedAtStart: false)
            s.next += 1
            s.entries.append(entry)
            return entry
        }
    }

    /// Removes the scenario named `name`; returns it, or `nil` when none is played.
    func remove(_ name: String) -> Entry? {
        state.withLock { s in
            guard let i = s.entries.firstIndex(where: { $0.scenario.name == name }) else { return nil }
            return s.entries.remove(at: i)
        }
    }
}
