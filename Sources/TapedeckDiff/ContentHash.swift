import OrderedCollections
import TapedeckCore

/// A hash of a message's content that ignores what the rules' ignored paths cover and the order of
/// object members, so that two messages equal under those paths hash alike. It anchors the alignment
/// (see `SequenceAlignment.align(coarse:_:fine:_:)`); the comparison itself decides what differs.
struct ContentHash {
    private let ignored: JSONPathSet

    init(rules: DiffRules) {
        self.ignored = JSONPathSet(rules.ignoredPaths)
    }

    func hash(_ body: MessageBody, key: Int32) -> Int {
        var h = Hasher()
        h.combine(key)
        switch body {
        case .value(let v):
            walk(v, ignored.root, &h)
        case .text(let t):
            h.combine(1 as UInt8)
            h.combine(t)
        case .binary(let b):
            h.combine(2 as UInt8)
            h.combine(b)
        }
        return h.finalize()
    }

    private func walk(_ v: Value, _ state: JSONPathSet.State, _ h: inout Hasher) {
        switch v {
        case .null: h.combine(0 as UInt8)
        case .bool(let b):
            h.combine(1 as UInt8)
            h.combine(b)
        case .int(let i):
            h.combine(2 as UInt8)
            h.combine(Double(i))
        case .double(let d):
            h.combine(2 as UInt8)
            h.combine(d)
        case .string(let s):
            h.combine(3 as UInt8)
            h.combine(s)
        case .array(let a):
            h.combine(4 as UInt8)
            h.combine(a.count)
            for (i, x) in a.enumerated() {
                let child = state.isDead ? state : ignored.child(state, .index(i))
                if !child.isCovered { walk(x, child, &h) }
            }
        case .object(let o):
            h.combine(5 as UInt8)
            for k in o.keys.sorted() {
                let child = state.isDead ? state : ignored.child(state, .key(k))
                if !child.isCovered, let x = o[k] {
                    h.combine(k)
                    walk(x, child, &h)
                }
            }
        }
    }
}
