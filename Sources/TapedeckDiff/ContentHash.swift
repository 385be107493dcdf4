import OrderedCollections
import TapedeckCore

/// A hash of a message's content that ignores what the rules' ignored paths cover and the order of
/// object members, so that two messages equal under those paths hash alike. It anchors the alignment
/// (see `SequenceAlignment.align(coarse:_:fine:_:)`); the comparison itself decides what differs.
struct ContentHash {
    let rules: DiffRules
    private let checksPaths: Bool

    init(rules: DiffRules) {
        self.rules = rules
        self.checksPaths = !rules.ignoredPaths.isEmpty
    }

    func hash(_ body: MessageBody, key: Int32) -> Int {
        var h = Hasher()
        h.combine(key)
        switch body {
        case .value(let v):
            var path: [ValuePath.Component] = []
            walk(v, &path, &h)
        case .text(let t):
            h.combine(1 as UInt8)
            h.combine(t)
        case .binary(let b):
            h.combine(2 as UInt8)
            h.combine(b)
        }
        return h.finalize()
    }

    private func walk(_ v: Value, _ path: inout [ValuePath.Component], _ h: inout Hasher) {
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
                path.append(.index(i))
                if !ignored(path) { walk(x, &path, &h) }
                path.removeLast()
            }
        case .object(let o):
            h.combine(5 as UInt8)
            for k in o.keys.sorted() {
                path.append(.key(k))
                if !ignored(path), let x = o[k] {
                    h.combine(k)
                    walk(x, &path, &h)
                }
                path.removeLast()
            }
        }
    }

    private func ignored(_ path: [ValuePath.Component]) -> Bool {
        checksPaths && rules.isIgnored(ValuePath(components: path))
    }
}
