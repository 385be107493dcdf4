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

    private let state = Mutex([Key: Deque<Value>]())
    /// At most this many keys per store; beyond it the store stops taking new keys.
    let maxKeys: Int

    init(maxKeys: Int = 100_000) { self.maxKeys = maxKeys }

    /// Appends an item, dropping the oldest beyond `size`.
    func record(_ item: Value, profile: String, key: String, size: Int) {
        state.withLock { s in
            let k = Key(profile: profile, key: key)
            if s[k] == nil && s.count >= maxKeys { return }
            s[k, default: []].append(item)
            while (s[k]?.count ?? 0) > size { s[k]?.removeFirst() }
        }
    }

    /// The items of a key, oldest first.
    func items(profile: String, key: String) -> [Value] {
        state.withLock { Array($0[Key(profile: profile, key: key)] ?? []) }
    }

    /// Forgets every item of a key.
    func clear(profile: String, key: String) {
        _ = state.withLock { $0.removeValue(forKey: Key(profile: profile, key: key)) }
    }
}
