import Synchronization
import DequeModule
import TapedeckCore

/// Bounded histories of events, per profile and key (see `HistorySpec`): each key keeps at most
/// `size` items, oldest dropped first, so memory is bounded by keys × size.
final class HistoryStore: Sendable {
    private struct Key: Hashable {
        var profile: String
        var key: String
    }

    private struct State {
        var items: [Key: Deque<(seq: Int, item: Value)>] = [:]
        var seq = 0
    }

    private let state = Mutex(State())
    /// At most this many keys per store; beyond it the store stops taking new keys.
    let maxKeys: Int

    init(maxKeys: Int = 100_000) { self.maxKeys = maxKeys }

    /// Appends an item, dropping the oldest beyond `size`.
    func record(_ item: Value, profile: String, key: String, size: Int) {
        state.withLock { s in
            let k = Key(profile: profile, key: key)
            if s.items[k] == nil && s.items.count >= maxKeys { return }
            s.seq += 1
            s.items[k, default: []].append((s.seq, item))
            while (s.items[k]?.count ?? 0) > size { s.items[k]?.removeFirst() }
        }
    }

    /// The items of a key, oldest first.
    func items(profile: String, key: String) -> [Value] {
        items(profile: profile, keys: [key])
    }

    /// The items of several keys, merged in the order they were recorded.
    func items(profile: String, keys: [String]) -> [Value] {
        state.withLock { s in
            let all = keys.flatMap { Array(s.items[Key(profile: profile, key: $0)] ?? []) }
            return (keys.count > 1 ? all.sorted { $0.seq < $1.seq } : all).map(\.item)
        }
    }

    /// Forgets every item of a key.
    func clear(profile: String, key: String) {
        _ = state.withLock { $0.items.removeValue(forKey: Key(profile: profile, key: key)) }
    }
}
