import TapedeckCore
import OrderedCollections

/// A position inside a frame value: object keys and list indices.
enum FramePathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
}

/// Reads a profile's `envelope` template backwards: given a frame, which scenario event would the
/// envelope have turned into it?
///
/// Where the envelope copies an event field (`"{{ event.data }}"`), the frame's value at that place
/// is the field's value. Literals must match. Values computed from anything but the event (`now()`,
/// `uuid()`, settings) are *volatile*: they are not read back, and the check that the event renders
/// to the frame again ignores them. `a ?? b` with an event field on the left reads the field back
/// (unless the frame holds the literal default `b`); `c ? a : b` tries both branches (the true branch
/// also takes `event.x == literal` conditions of `c` as fields); `merge(...)` of object literals and
/// one event field gives that field the frame minus the literals' keys. Anything else computed from
/// the event cannot be read back and is treated as volatile.
struct EnvelopeInverter: Sendable {
    /// One way of reading a frame back: the event fields found, and the frame paths that are volatile.
    struct Reading: Sendable {
        var event: Value = .emptyObject
        var volatile: Set<[FramePathComponent]> = []
        /// The event paths the envelope reads directly, as found in this frame.
        var readPaths: [[String]] = []

        mutating func assign(_ path: [String], _ value: Value) -> Bool {
            readPaths.append(path)
            guard let first = path.first else {
                guard case .object = value else { return false }
                event = event.merging(value)
                return true
            }
            event = Self.setting(event, path: path[...], first: first, to: value)
            return true
        }

        static func setting(_ base: Value, path: ArraySlice<String>, first: String, to value: Value) -> Value {
            var object = base.objectValue ?? [:]
            let rest = path.dropFirst()
            if let next = rest.first {
                object[first] = setting(object[first] ?? .emptyObject, path: rest, first: next, to: value)
            } else {
                object[first] = value
            }
            return .object(object)
        }
    }

    let envelope: Template

    /// Every reading of `frame` the envelope allows (usually zero or one).
    func readings(of frame: Value) -> [Reading] {
        invert(envelope, frame, at: [], [Reading()])
    }

    // MARK: - Templates

    func invert(_ t: Template, _ v: Value, at path: [FramePathComponent], _ states: [Reading]) -> [Reading] {
        if states.isEmpty { return [] }
        switch t {
        case .constant(let c):
            return ValueMatching.equal(c, v) ? states : []
        case .expression(let e):
            return states.flatMap { invert(e, v, at: path, $0) }
        case .interpolation(let parts):
            guard case .string(let s) = v else { return [] }
            guard let captured = ValueMatching.glob(parts, s) else { return [] }
            let expressions = parts.compactMap { if case .expression(let e) = $0 { e } else { nil } }
            if expressions.count == 1, let eventPath = Self.eventPath(expressions[0]), let text = captured.first {
                return states.compactMap { var r = $0; return r.assign(eventPath, .string(text)) ? r : nil }
            }
            return states.map { var r = $0; r.volatile.insert(path); return r }
        case .array(let items):
            guard case .array(let values) = v, values.count == items.count else { return [] }
            var out = states
            for (i, item) in items.enumerated() { out = invert(item, values[i], at: path + [.index(i)], out) }
            return out
        case .object(let members):
            guard case .object(let object) = v else { return [] }
            var out = states
            var seen: Set<String> = []
            for (k, item) in members {
                let optional = k.hasSuffix("?")
                let key = optional ? String(k.dropLast()) : k
                seen.insert(key)
                guard let value = object[key] else {
                    if optional { continue }
                    return []
                }
                out = invert(item, value, at: path + [.key(key)], out)
            }
            if object.keys.contains(where: { !seen.contains($0) }) { return [] }
            return out
        }
    }

    // MARK: - Expressions

    func invert(_ e: Expression, _ v: Value, at path: [FramePathComponent], _ state: Reading) -> [Reading] {
        guard e.freeNames.contains("event") else {
            if case .literal(let c) = e { return ValueMatching.equal(c, v) ? [state] : [] }
            var r = state
            r.volatile.insert(path)
            return [r]
        }
        if let eventPath = Self.eventPath(e) {
            var r = state
            return r.assign(eventPath, v) ? [r] : []
        }
        switch e {
        case .binary(.coalesce, let lhs, let rhs):
            guard let eventPath = Self.eventPath(lhs) else { break }
            var r = state
            if !rhs.freeNames.isEmpty || rhs.calledFunctions.count > 0 {
                // `event.x ?? now()`: the frame does not say which side made it; regenerate it.
                r.volatile.insert(path)
                return [r]
            }
            if case .literal(let fallback) = rhs, ValueMatching.equal(fallback, v) { return [r] }
            return r.assign(eventPath, v) ? [r] : []
        case .conditional(let condition, let whenTrue, let whenFalse):
            var first = state
            for (p, value) in Self.equalities(in: condition) { _ = first.assign(p, value) }
            return invert(whenTrue, v, at: path, first) + invert(whenFalse, v, at: path, state)
        case .object(let pairs):
            guard case .object(let object) = v, object.count == pairs.count else { return [] }
            var out = [state]
            for (k, item) in pairs {
                guard let value = object[k] else { return [] }
                out = out.flatMap { invert(item, value, at: path + [.key(k)], $0) }
            }
            return out
        case .list(let items):
            guard case .array(let values) = v, values.count == items.count else { return [] }
            var out = [state]
            for (i, item) in items.enumerated() { out = out.flatMap { invert(item, values[i], at: path + [.index(i)], $0) } }
            return out
        case .call("merge", let args):
            return invertMerge(args.map(\.value), v, at: path, state)
        default:
            break
        }
        // Computed from the event in a way that cannot be read back: regenerate it.
        var r = state
        r.volatile.insert(path)
        return [r]
    }

    /// `merge(a, b, ...)`: object literals, and at most one event field that gets the rest.
    func invertMerge(_ args: [Expression], _ v: Value, at path: [FramePathComponent], _ state: Reading) -> [Reading] {
        guard case .object(let object) = v else { return [] }
        var rest = object
        var target: [String]?
        var out = [state]
        for arg in args {
            if let p = Self.eventPath(arg) {
                guard target == nil else { return [] }
                target = p
            } else if case .object(let pairs) = arg {
                for (k, item) in pairs {
                    guard let value = object[k] else { return [] }
                    rest[k] = nil
                    out = out.flatMap { invert(item, value, at: path + [.key(k)], $0) }
                }
            } else {
                return []
            }
        }
        guard let target else { return out }
        return out.compactMap { var r = $0; return r.assign(target, .object(rest)) ? r : nil }
    }

    /// `event`, `event.a.b` or `event['a']` as a path; `nil` for anything else.
    static func eventPath(_ e: Expression) -> [String]? {
        switch e {
        case .name("event"): return []
        case .member(let base, let key): return eventPath(base).map { $0 + [key] }
        case .index(let base, .literal(.string(let key))): return eventPath(base).map { $0 + [key] }
        default: return nil
        }
    }

    /// `event.x == 'lit'` conditions joined by `and`: what must hold for the true branch.
    static func equalities(in condition: Expression) -> [([String], Value)] {
        switch condition {
        case .binary(.and, let a, let b): return equalities(in: a) + equalities(in: b)
        case .binary(.equal, let a, .literal(let value)): return eventPath(a).map { [($0, value)] } ?? []
        case .binary(.equal, .literal(let value), let b): return eventPath(b).map { [($0, value)] } ?? []
        default: return []
        }
    }
}

/// Comparisons of values and templates used when reading frames back.
enum ValueMatching {
    /// Equal as JSON values: `1 == 1.0`, objects compared by key regardless of order.
    static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.int, .double), (.double, .int), (.double, .double), (.int, .int):
            return a.doubleValue == b.doubleValue
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        default:
            return a == b
        }
    }

    /// Equal except at `volatile` paths, which must exist on both sides but may differ.
    static func equal(_ a: Value, _ b: Value, ignoring volatile: Set<[FramePathComponent]>, at path: [FramePathComponent] = []) -> Bool {
        if volatile.contains(path) { return true }
        switch (a, b) {
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).enumerated().allSatisfy { i, p in equal(p.0, p.1, ignoring: volatile, at: path + [.index(i)]) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k].map { equal(v, $0, ignoring: volatile, at: path + [.key(k)]) } ?? false }
        default:
            return equal(a, b)
        }
    }

    /// Whether a value could have been produced by a template: literals must match, every
    /// expression matches anything, keys must be the template's (optional `key?` may be absent).
    /// With `absentIsDefault` (protobuf, where default values are not sent), a key whose template
    /// is computed may be absent too.
    static func shapeMatches(_ t: Template, _ v: Value, absentIsDefault: Bool = false) -> Bool {
        switch t {
        case .constant(let c): return equal(c, v)
        case .expression: return true
        case .interpolation(let parts):
            guard case .string(let s) = v else { return false }
            return glob(parts, s) != nil
        case .array(let items):
            guard case .array(let values) = v, values.count == items.count else { return false }
            return zip(items, values).allSatisfy { shapeMatches($0, $1, absentIsDefault: absentIsDefault) }
        case .object(let members):
            guard case .object(let object) = v else { return false }
            var seen: Set<String> = []
            for (k, item) in members {
                let optional = k.hasSuffix("?")
                let key = optional ? String(k.dropLast()) : k
                seen.insert(key)
                guard let value = object[key] else {
                    if optional || (absentIsDefault && !item.isConstant) { continue }
                    return false
                }
                if !shapeMatches(item, value, absentIsDefault: absentIsDefault) { return false }
            }
            return object.keys.allSatisfy { seen.contains($0) }
        }
    }

    /// Matches text against interpolation parts (literal text must appear in order, each expression
    /// matches any text, shortest first); returns the text each expression matched, or `nil`.
    static func glob(_ parts: [Template.Part], _ text: String) -> [String]? {
        func match(_ i: Int, _ rest: Substring) -> [String]? {
            guard i < parts.count else { return rest.isEmpty ? [] : nil }
            switch parts[i] {
            case .text(let t):
                guard rest.hasPrefix(t) else { return nil }
                return match(i + 1, rest.dropFirst(t.count))
            case .expression:
                var end = rest.startIndex
                while true {
                    if let tail = match(i + 1, rest[end...]) { return [String(rest[rest.startIndex..<end])] + tail }
                    guard end < rest.endIndex else { return nil }
                    end = rest.index(after: end)
                }
            }
        }
        return match(0, Substring(text))
    }
}
