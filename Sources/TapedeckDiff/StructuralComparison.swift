public import TapedeckCore
import OrderedCollections

/// The structural differences between two values under `rules`, in document order of `expected`
/// (then fields only `actual` has).
///
/// Objects compare member by member regardless of key order; lists element by element; `1` equals `1.0`.
/// A difference at a location an ignored path covers is dropped, and so is a change between two strings
/// that both match one ignored value pattern. An empty result means "equal under the rules".
public func differences(expected: Value, actual: Value, rules: DiffRules) -> [ValueDifference] {
    var walker = StructuralComparison(rules: rules)
    walker.compare(expected, actual)
    return walker.found
}

/// The differences between two message bodies: decoded values compare structurally, text and bytes
/// as a whole (at `$`), and bodies of different forms as a changed type.
public func differences(expected: MessageBody, actual: MessageBody, rules: DiffRules) -> [ValueDifference] {
    switch (expected, actual) {
    case (.value(let e), .value(let a)):
        return differences(expected: e, actual: a, rules: rules)
    case (.text(let e), .text(let a)):
        if e == a || rules.areEquivalent(e, a) || rules.isIgnored(.root) { return [] }
        return [ValueDifference(path: .root, kind: .changed, expected: .string(e), actual: .string(a))]
    case (.binary(let e), .binary(let a)):
        if e == a || rules.isIgnored(.root) { return [] }
        return [ValueDifference(path: .root, kind: .changed, expected: expected.displayValue, actual: actual.displayValue)]
    default:
        if rules.isIgnored(.root) { return [] }
        return [ValueDifference(path: .root, kind: .typeChanged, expected: expected.displayValue, actual: actual.displayValue)]
    }
}

/// The recursive walk behind `differences(expected:actual:rules:)`; one path buffer, no copies of values,
/// and the ignored paths matched step by step on the way down.
struct StructuralComparison {
    let rules: DiffRules
    var found: [ValueDifference] = []
    private var path: [ValuePath.Component] = []
    private let ignored: JSONPathSet

    init(rules: DiffRules) {
        self.rules = rules
        self.ignored = JSONPathSet(rules.ignoredPaths)
    }

    private mutating func emit(_ kind: ValueDifference.Kind, _ e: Value?, _ a: Value?) {
        found.append(ValueDifference(path: ValuePath(components: path), kind: kind, expected: e, actual: a))
    }

    mutating func compare(_ e: Value, _ a: Value) {
        compare(e, a, ignored.root)
    }

    private mutating func compare(_ e: Value, _ a: Value, _ state: JSONPathSet.State) {
        if state.isCovered { return }
        switch (e, a) {
        case (.object(let eo), .object(let ao)):
            for (k, ev) in eo {
                let child = ignored.child(state, .key(k))
                if child.isCovered { continue }
                path.append(.key(k))
                if let av = ao[k] {
                    compare(ev, av, child)
                } else {
                    emit(.removed, ev, nil)
                }
                path.removeLast()
            }
            for (k, av) in ao where eo[k] == nil {
                if ignored.child(state, .key(k)).isCovered { continue }
                path.append(.key(k))
                emit(.added, nil, av)
                path.removeLast()
            }
        case (.array(let ea), .array(let aa)):
            for i in 0..<max(ea.count, aa.count) {
                let child = ignored.child(state, .index(i))
                if child.isCovered { continue }
                path.append(.index(i))
                if i < ea.count, i < aa.count {
                    compare(ea[i], aa[i], child)
                } else if i < ea.count {
                    emit(.removed, ea[i], nil)
                } else {
                    emit(.added, nil, aa[i])
                }
                path.removeLast()
            }
        case (.string(let es), .string(let as_)):
            if es != as_ && !rules.areEquivalent(es, as_) { emit(.changed, e, a) }
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
            if !e.looselyEquals(a) { emit(.changed, e, a) }
        case (.bool(let eb), .bool(let ab)):
            if eb != ab { emit(.changed, e, a) }
        case (.null, .null):
            break
        default:
            emit(.typeChanged, e, a)
        }
    }
}
