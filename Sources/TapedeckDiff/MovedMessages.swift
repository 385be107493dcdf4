/// Messages the alignment left unpaired on both sides that are the same message under the rules:
/// one removed and one added with equal content. Each such pair is one moved message, not two
/// differences; when it moved by no more than the reorder window (a reply racing an event, a few
/// milliseconds apart), it is no difference at all.
struct MovedMessages: Sendable {
    /// An unpaired message of one side: its position in its direction, its content hash under the
    /// rules, and its time since its connection opened.
    struct Unpaired: Sendable, Hashable {
        var position: Int
        var hash: Int
        var offsetNanos: Int64
    }

    /// Expected position -> actual position.
    private(set) var actualFor: [Int: Int] = [:]
    /// Actual position -> expected position.
    private(set) var expectedFor: [Int: Int] = [:]

    /// Pairs removed and added messages of equal content, each with the added one closest in time.
    init(removed: [Unpaired], added: [Unpaired]) {
        guard !removed.isEmpty, !added.isEmpty else { return }
        var byHash: [Int: [Unpaired]] = [:]
        for a in added { byHash[a.hash, default: []].append(a) }
        for r in removed {
            guard var candidates = byHash[r.hash], !candidates.isEmpty else { continue }
            var best = 0
            for (k, c) in candidates.enumerated()
            where abs(c.offsetNanos - r.offsetNanos) < abs(candidates[best].offsetNanos - r.offsetNanos) {
                best = k
            }
            let a = candidates.remove(at: best)
            byHash[r.hash] = candidates
            actualFor[r.position] = a.position
            expectedFor[a.position] = r.position
        }
    }

    /// The unpaired positions of each side, read off an alignment's runs.
    static func unpairedPositions(_ runs: [SequenceAlignment.Run]) -> (removed: [Int], added: [Int]) {
        var removed: [Int] = [], added: [Int] = []
        var i = 0, j = 0
        for run in runs {
            switch run {
            case .match(let n): i += n; j += n
            case .delete(let n): removed += i..<(i + n); i += n
            case .insert(let n): added += j..<(j + n); j += n
            }
        }
        return (removed, added)
    }
}
