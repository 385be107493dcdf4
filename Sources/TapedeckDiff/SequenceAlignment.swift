/// Aligns two sequences of message keys with Myers' O(ND) difference algorithm, so that one inserted
/// message is one insertion and everything after it still matches.
///
/// Keys are small integers (interned message names). The common prefix and suffix are matched first;
/// the middle is aligned with at most `maxEdits` edits (memory grows with the square of the edits: 16 MB
/// for 2000), and
/// beyond that it falls back to pairing by position, which still reports every message.
struct SequenceAlignment: Sendable, Equatable {
    /// A run of the edit script.
    enum Run: Sendable, Equatable {
        /// `count` messages of both sides with the same key, paired in order.
        case match(Int)
        /// `count` messages only the expected side has.
        case delete(Int)
        /// `count` messages only the actual side has.
        case insert(Int)
    }

    var runs: [Run]
    /// Whether the middle was too different and was paired by position.
    var fellBack = false

    static func align(_ a: [Int32], _ b: [Int32], maxEdits: Int = 2000) -> SequenceAlignment {
        align(a[...], b[...], maxEdits: maxEdits)
    }

    /// Two-level alignment: first on `fine` tokens (a message's key and its content under the rules), so
    /// that messages equal under the rules anchor the alignment even among many messages of one key;
    /// then each gap between anchors is aligned on the `coarse` keys, pairing changed messages of the
    /// same key. Without anchors (the fine alignment needs too many edits) it aligns on keys alone.
    static func align(coarse a: [Int32], _ b: [Int32], fine fa: [Int], _ fb: [Int], maxEdits: Int = 2000) -> SequenceAlignment {
        let fine = align(fa[...], fb[...], maxEdits: maxEdits)
        if fine.fellBack { return align(a[...], b[...], maxEdits: maxEdits) }
        var builder = Builder()
        var fellBack = false
        var i = 0, j = 0, gapA = 0, gapB = 0
        func flush() {
            guard gapA > 0 || gapB > 0 else { return }
            let sub = align(a[i..<(i + gapA)], b[j..<(j + gapB)], maxEdits: maxEdits)
            for r in sub.runs { builder.add(r) }
            fellBack = fellBack || sub.fellBack
            i += gapA
            j += gapB
            gapA = 0
            gapB = 0
        }
        for run in fine.runs {
            switch run {
            case .match(let n):
                flush()
                builder.add(.match(n))
                i += n
                j += n
            case .delete(let n): gapA += n
            case .insert(let n): gapB += n
            }
        }
        flush()
        return SequenceAlignment(runs: builder.runs, fellBack: fellBack)
    }

    static func align<T: Equatable>(_ a: ArraySlice<T>, _ b: ArraySlice<T>, maxEdits: Int) -> SequenceAlignment {
        let a = Array(a), b = Array(b)
        var builder = Builder()
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        builder.add(.match(prefix))
        let midA = a[prefix..<(a.count - suffix)]
        let midB = b[prefix..<(b.count - suffix)]
        var fellBack = false
        if midA.isEmpty || midB.isEmpty {
            builder.add(.delete(midA.count))
            builder.add(.insert(midB.count))
        } else if let script = myers(Array(midA), Array(midB), maxEdits: maxEdits) {
            for r in script { builder.add(r) }
        } else {
            fellBack = true
            for r in positional(Array(midA), Array(midB)) { builder.add(r) }
        }
        builder.add(.match(suffix))
        return SequenceAlignment(runs: builder.runs, fellBack: fellBack)
    }

    /// Collects runs, merging neighbours of the same kind and dropping empty ones.
    struct Builder {
        var runs: [Run] = []
        mutating func add(_ run: Run) {
            switch (runs.last, run) {
            case (_, .match(0)), (_, .delete(0)), (_, .insert(0)): return
            case (.match(let x)?, .match(let y)): runs[runs.count - 1] = .match(x + y)
            case (.delete(let x)?, .delete(let y)): runs[runs.count - 1] = .delete(x + y)
            case (.insert(let x)?, .insert(let y)): runs[runs.count - 1] = .insert(x + y)
            default: runs.append(run)
            }
        }
    }

    /// Pairs by position: equal keys match, different ones are a deletion and an insertion.
    static func positional<T: Equatable>(_ a: [T], _ b: [T]) -> [Run] {
        var builder = Builder()
        for i in 0..<min(a.count, b.count) {
            if a[i] == b[i] {
                builder.add(.match(1))
            } else {
                builder.add(.delete(1))
                builder.add(.insert(1))
            }
        }
        builder.add(.delete(max(0, a.count - b.count)))
        builder.add(.insert(max(0, b.count - a.count)))
        return builder.runs
    }

    /// Myers' greedy forward search with a trace of the frontier for each edit count, then a backtrack.
    /// `nil` when more than `maxEdits` edits are needed.
    static func myers<T: Equatable>(_ a: [T], _ b: [T], maxEdits: Int) -> [Run]? {
        let n = a.count, m = b.count
        let limit = min(n + m, maxEdits)
        let offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        v[offset + 1] = 0
        // trace[d] holds v[-(d-1)...(d-1)] as it was before step d (32-bit: the trace is the memory cost).
        var trace: [[Int32]] = []
        var found: Int?
        outer: for d in 0...limit {
            trace.append(d == 0 ? [] : v[(offset - d + 1)...(offset + d - 1)].map { Int32(truncatingIfNeeded: $0) })
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]
                } else {
                    x = v[offset + k - 1] + 1
                }
                var y = x - k
                while x < n, y < m, a[x] == b[y] {
                    x += 1
                    y += 1
                }
                v[offset + k] = x
                if x >= n, y >= m {
                    found = d
                    break outer
                }
            }
        }
        guard let dFound = found else { return nil }
        // Backtrack, collecting single steps in reverse.
        var steps: [Run] = []
        var x = n, y = m
        var d = dFound
        while d > 0 {
            let snapshot = trace[d]
            func at(_ k: Int) -> Int { Int(snapshot[k + d - 1]) }
            let k = x - y
            let prevK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let prevX = at(prevK)
            let prevY = prevX - prevK
            let diagonal = min(x - prevX, y - prevY)
            steps.append(.match(diagonal))
            x -= diagonal
            y -= diagonal
            if x == prevX { steps.append(.insert(1)) } else { steps.append(.delete(1)) }
            x = prevX
            y = prevY
            d -= 1
        }
        steps.append(.match(min(x, y)))
        var builder = Builder()
        for s in steps.reversed() { builder.add(s) }
        return builder.runs
    }
}
