import OrderedCollections

extension FunctionLibrary {
    /// The built-in functions.
    ///
    /// | function | result |
    /// |---|---|
    /// | `seq()` | the 1-based number of the event in its stream |
    /// | `uuid()` | a random (seeded) UUID v4 |
    /// | `now([offset])` | the current time, ISO-8601 UTC with milliseconds; `offset` in seconds (`now(-5m)`) |
    /// | `time([offset])`, `time_ms()` | the current Unix time in seconds / milliseconds |
    /// | `mono_ns()` | the real monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds, whatever the scenario time; for one-way latency on one machine (`tapedeck bench --latency-field`) |
    /// | `iso(seconds)` | formats a Unix time as ISO-8601 |
    /// | `millis(x)` | Unix milliseconds from milliseconds or an ISO-8601 time |
    /// | `rand.int(a, b)`, `rand.float(a, b)`, `rand.bool([p])` | seeded uniform values (`int` inclusive) |
    /// | `pick(list)` or `pick(a, b, ...)` | one element, uniformly |
    /// | `weighted({a: 1, b: 3})` or `weighted([[a, 1], [b, 3]])` | one key/value by weight |
    /// | `normal(mean, sd)` | a normally distributed number |
    /// | `wave(min, max, period[, phase])` | a sine wave over scenario time |
    /// | `ramp(from, to, duration[, start])` | a linear ramp over scenario time, clamped |
    /// | `round(x[, digits])`, `floor`, `ceil`, `abs`, `min`, `max` | arithmetic |
    /// | `format(fmt, args...)` | printf-style: `%d %5d %05d %s %f %.2f %x %%` |
    /// | `unix(iso)` | the Unix time of an ISO-8601 text |
    /// | `logquery.match(query, log)`, `logquery.error(query)`, `logquery.select(list, query)` | the log search query language (`LogQuery`, `FunctionLibrary+LogQuery.swift`) |
    /// | `duration.dhms(seconds)` | `7d 23h 59m 59s` (`FunctionLibrary+DurationFormats.swift`) |
    /// | `filter_match(data, filter[, strict])`, `filter_error(filter[, fields])`, `filter_select(list, filter[, strict])` | field filters |
    /// | `last(list, n)`, `parse_json(text[, default])` | helpers |
    /// | `env(name[, default])` | an environment variable |
    /// | `without(list, items)`, `keys_where(object, field, value)` | list helpers |
    /// | `fail(message)` | an error (e.g. a claim that must be present) |
    /// | `regex_find(text, regex[, group])`, `regex_all(text, regex[, group])`, `object(key, value, ...)` | see ``textFunctions`` |
    /// | `len`, `lower`, `upper`, `str`, `int`, `float`, `keys`, `values`, `join`, `split`, `contains`, `starts_with`, `ends_with`, `merge`, `get`, `range`, `slice`, `unique` | helpers |
    public static let standard: FunctionLibrary = {
        var f: [String: Function] = [:]
        f["seq"] = Function { ctx, _ in .int(ctx.sequence) }
        f["uuid"] = Function { ctx, _ in .string(uuid(&ctx.random)) }
        f["now"] = Function { ctx, a in .string(Timestamp.iso8601(ctx.now + (try a.number(0, "offset", default: 0)))) }
        f["time"] = Function { ctx, a in .double(ctx.now + (try a.number(0, "offset", default: 0))) }
        f["time_ms"] = Function { ctx, a in .int(Int(((ctx.now + (try a.number(0, "offset", default: 0))) * 1000).rounded(.down))) }
        f["mono_ns"] = Function { _, _ in .int(monotonicNanoseconds()) }
        f["millis"] = Function(deterministic: true) { _, a in
            // Unix milliseconds from a number of milliseconds, a numeric string or an ISO-8601 time.
            let v = try a.require(0)
            if let d = v.doubleValue { return .int(Int(d)) }
            if let s = v.stringValue {
                if let i = Int(s) { return .int(i) }
                if let t = Timestamp.parse(s) { return .int(Int((t * 1000).rounded())) }
            }
            throw ExpressionError("expected milliseconds or an ISO-8601 time, found \(v)")
        }
        f["iso"] = Function(deterministic: true) { _, a in
            let v = try a.require(0)
            if let s = v.stringValue, let t = Timestamp.parse(s) { return .string(Timestamp.iso8601(t)) }
            return .string(Timestamp.iso8601(try a.number(0)))
        }
        f["unix"] = Function(deterministic: true) { _, a in
            // unix(iso): the Unix time in seconds of an ISO-8601 text (a number is returned as it is).
            let v = try a.require(0)
            if let d = v.doubleValue { return .double(d) }
            guard let s = v.stringValue, let t = Timestamp.parse(s) else { throw ExpressionError("'\(v.plainText)' is not an ISO-8601 time") }
            return .double(t)
        }
        f["rand.int"] = Function { ctx, a in
            let lo = try whole(a.number(0, "min")), hi = try whole(a.number(1, "max"))
            guard lo <= hi else { throw ExpressionError("min \(lo) is greater than max \(hi)") }
            return .int(Int.random(in: lo...hi, using: &ctx.random))
        }
        f["rand.float"] = Function { ctx, a in
            let lo = try a.number(0, "min", default: 0), hi = try a.number(1, "max", default: 1)
            guard lo <= hi else { throw ExpressionError("min \(lo) is greater than max \(hi)") }
            return .double(lo + (hi - lo) * ctx.random.unit())
        }
        f["rand.bool"] = Function { ctx, a in .bool(ctx.random.unit() < (try a.number(0, "p", default: 0.5))) }
        f["pick"] = Function { ctx, a in
            let items = a.count == 1 ? (a.positional[0].arrayValue ?? [a.positional[0]]) : a.positional
            guard !items.isEmpty else { throw ExpressionError("nothing to pick from") }
            return items[Int(ctx.random.next() % UInt64(items.count))]
        }
        f["weighted"] = Function { ctx, a in
            let v = try a.require(0)
            var choices: [(Value, Double)] = []
            switch v {
            case .object(let o):
                for (k, w) in o {
                    guard let d = w.doubleValue else { throw ExpressionError("weight of '\(k)' must be a number") }
                    choices.append((.string(k), d))
                }
            case .array(let items):
                for item in items {
                    guard let pair = item.arrayValue, pair.count == 2, let d = pair[1].doubleValue else {
                        throw ExpressionError("expected [value, weight] pairs")
                    }
                    choices.append((pair[0], d))
                }
            default: throw ExpressionError("expected an object of weights or a list of [value, weight] pairs")
            }
            let total = choices.reduce(0) { $0 + max(0, $1.1) }
            guard total > 0 else { throw ExpressionError("weights must add up to more than zero") }
            var x = ctx.random.unit() * total
            for (value, w) in choices {
                x -= max(0, w)
                if x < 0 { return value }
            }
            return choices[choices.count - 1].0
        }
        f["normal"] = Function { ctx, a in
            let mean = try a.number(0, "mean", default: 0), sd = try a.number(1, "sd", default: 1)
            let u1 = max(ctx.random.unit(), 1e-300), u2 = ctx.random.unit()
            return .double(mean + sd * (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
        }
        f["wave"] = Function { ctx, a in
            let lo = try a.number(0, "min"), hi = try a.number(1, "max"), period = try a.number(2, "period")
            let phase = try a.number(3, "phase", default: 0)
            guard period > 0 else { throw ExpressionError("period must be positive") }
            let s = _sin(2 * Double.pi * (ctx.scenarioTime + phase) / period)
            return .double(lo + (hi - lo) * (1 + s) / 2)
        }
        f["ramp"] = Function { ctx, a in
            let from = try a.number(0, "from"), to = try a.number(1, "to"), duration = try a.number(2, "duration")
            let start = try a.number(3, "start", default: 0)
            let x = duration <= 0 ? 1 : min(1, max(0, (ctx.scenarioTime - start) / duration))
            return .double(from + (to - from) * x)
        }
        f["round"] = Function(deterministic: true) { _, a in
            let x = try a.number(0), digits = try whole(a.number(1, "digits", default: 0))
            if digits <= 0 { return .int(try whole(x.rounded())) }
            var scale = 1.0
            for _ in 0..<min(digits, 15) { scale *= 10 }
            return .double((x * scale).rounded() / scale)
        }
        f["floor"] = Function(deterministic: true) { _, a in .int(try whole((try a.number(0)).rounded(.down))) }
        f["ceil"] = Function(deterministic: true) { _, a in .int(try whole((try a.number(0)).rounded(.up))) }
        f["abs"] = Function(deterministic: true) { _, a in
            let v = try a.require(0)
            if case .int(let i) = v { return .int(abs(i)) }
            return .double(abs(try a.number(0)))
        }
        f["min"] = Function(deterministic: true) { _, a in try extreme(a, <) }
        f["max"] = Function(deterministic: true) { _, a in try extreme(a, >) }
        f["format"] = Function(deterministic: true) { _, a in .string(try Printf.format(try a.string(0), Array(a.positional.dropFirst()))) }
        f["env"] = Function(deterministic: true) { ctx, a in
            let name = try a.string(0, "name")
            if let v = ctx.environment[name] { return .string(v) }
            return a.value(1, "default") ?? .null
        }
        f["len"] = Function(deterministic: true) { _, a in
            switch try a.require(0) {
            case .string(let s): .int(s.count)
            case .array(let x): .int(x.count)
            case .object(let o): .int(o.count)
            case .null: .int(0)
            case let v: throw ExpressionError("len() of \(v.kindName)")
            }
        }
        f["lower"] = Function(deterministic: true) { _, a in .string(try a.string(0).lowercased()) }
        f["upper"] = Function(deterministic: true) { _, a in .string(try a.string(0).uppercased()) }
        f["str"] = Function(deterministic: true) { _, a in .string(try a.require(0).plainText) }
        f["int"] = Function(deterministic: true) { _, a in
            let v = try a.require(0)
            if let s = v.stringValue {
                guard let i = Int(s) ?? Double(s).flatMap({ $0.isFinite && abs($0) < 9e15 ? Int($0) : nil }) else { throw ExpressionError("'\(s)' is not a number") }
                return .int(i)
            }
            return .int(try whole(a.number(0)))
        }
        f["float"] = Function(deterministic: true) { _, a in
            let v = try a.require(0)
            if let s = v.stringValue {
                guard let d = Double(s) else { throw ExpressionError("'\(s)' is not a number") }
                return .double(d)
            }
            return .double(try a.number(0))
        }
        f["keys"] = Function(deterministic: true) { _, a in .array((try a.require(0).objectValue ?? [:]).keys.map { .string($0) }) }
        f["values"] = Function(deterministic: true) { _, a in .array(Array((try a.require(0).objectValue ?? [:]).values)) }
        f["join"] = Function(deterministic: true) { _, a in
            .string(try a.list(0).map(\.plainText).joined(separator: (try? a.string(1)) ?? ","))
        }
        f["split"] = Function(deterministic: true) { _, a in
            let s = try a.string(0), sep = try a.string(1)
            guard !sep.isEmpty else { return .array(s.map { .string(String($0)) }) }
            return .array(s.split(separator: sep, omittingEmptySubsequences: false).map { .string(String($0)) })
        }
        f["contains"] = Function(deterministic: true) { _, a in try Evaluator.binary(.in, try a.require(1), try a.require(0)) }
        f["starts_with"] = Function(deterministic: true) { _, a in .bool(try a.string(0).hasPrefix(try a.string(1))) }
        f["ends_with"] = Function(deterministic: true) { _, a in .bool(try a.string(0).hasSuffix(try a.string(1))) }
        f["merge"] = Function(deterministic: true) { _, a in
            var out = OrderedDictionary<String, Value>()
            for v in a.positional {
                for (k, x) in v.objectValue ?? [:] { out[k] = x }
            }
            return .object(out)
        }
        f["get"] = Function(deterministic: true) { _, a in
            let base = try a.require(0), key = try a.require(1)
            let found: Value? = key.stringValue.flatMap { base[$0] } ?? key.intValue.flatMap { base[$0] }
            return found ?? a.value(2) ?? .null
        }
        f["range"] = Function(deterministic: true) { _, a in
            let lo = a.count > 1 ? try whole(a.number(0)) : 0
            let hi = try whole(a.number(a.count > 1 ? 1 : 0))
            guard hi - lo <= 100_000 else { throw ExpressionError("range too large") }
            return .array(lo < hi ? (lo..<hi).map { .int($0) } : [])
        }
        f["slice"] = Function(deterministic: true) { _, a in
            let items = try a.list(0)
            let from = max(0, try whole(a.number(1, default: 0)))
            let to = min(items.count, try whole(a.number(2, default: Double(items.count))))
            return .array(from < to ? Array(items[from..<to]) : [])
        }
        f["unique"] = Function(deterministic: true) { _, a in
            var out: [Value] = []
            for v in try a.list(0) where !out.contains(v) { out.append(v) }
            return .array(out)
        }
        f["filter_match"] = Function(deterministic: true) { _, a in
            // Each filter key restricts only values that carry that field; a list means any of.
            // With `strict` (third argument true) a value without the field does not match.
            // Keys may be dotted paths into nested objects (`metadata.component`).
            let data = try a.require(0), filters = try a.require(1)
            let strict = a.value(2, "strict")?.isTruthy ?? false
            for (k, want) in filters.objectValue ?? [:] where !want.isNull {
                let path = k.split(separator: ".").map(String.init)
                guard let have = LogQuery.lookup(path, in: data), !have.isNull else {
                    if strict { return .bool(false) }
                    continue
                }
                let options = want.arrayValue ?? [want]
                if !options.contains(where: { $0.looselyEquals(have) }) { return .bool(false) }
            }
            return .bool(true)
        }
        f["without"] = Function(deterministic: true) { _, a in
            let second = try a.require(1)
            let remove = second.arrayValue ?? [second]
            return .array(try a.list(0).filter { v in !remove.contains { $0.looselyEquals(v) } })
        }
        f["keys_where"] = Function(deterministic: true) { _, a in
            // Keys of an object whose entries have `field` equal to `value`.
            let table = (try a.require(0)).objectValue ?? [:]
            let field = try a.string(1), value = try a.require(2)
            return .array(table.filter { $0.value[field]?.looselyEquals(value) ?? false }.map { .string($0.key) })
        }
        f["fail"] = Function(deterministic: true) { _, a in throw ExpressionError(try a.string(0)) }
        f["filter_error"] = Function(deterministic: true) { _, a in
            // filter_error(filter[, fields]): null when `filter` is an object whose keys are among
            // `fields` (when given; dotted paths check their first segment) and whose values are
            // scalars or lists of scalars; else what is wrong with it.
            let filter = try a.require(0)
            guard let o = filter.objectValue else { return .string("a filter is an object, not \(filter.kindName)") }
            let fields = a.value(1, "fields")?.arrayValue?.compactMap(\.stringValue)
            for (k, v) in o {
                let head = String(k.split(separator: ".").first ?? "")
                if let fields, !fields.contains(k), !fields.contains(head) { return .string("unknown filter field '\(k)'") }
                let items = v.arrayValue ?? [v]
                if items.contains(where: { if case .object = $0 { true } else if case .array = $0 { true } else { false } }) {
                    return .string("filter field '\(k)' must be a value or a list of values")
                }
            }
            return .null
        }
        f["filter_select"] = Function(deterministic: true) { _, a in
            // filter_select(list, filter[, strict]): the items that pass filter_match.
            let filter = try a.require(1), strict = a.value(2, "strict") ?? false
            guard let match = ctxFree["filter_match"] else { return .array([]) }
            var ctx = EvaluationContext()
            return .array(try a.list(0).filter { item in
                try match.body(&ctx, FunctionArguments(name: "filter_match", positional: [item, filter, strict], named: [:])).isTruthy
            })
        }
        f["last"] = Function(deterministic: true) { _, a in
            // last(list, n): the last n items, in order.
            let items = try a.list(0)
            let n = max(0, try whole(a.number(1, default: 1)))
            return .array(Array(items.suffix(n)))
        }
        f["parse_json"] = Function(deterministic: true) { _, a in
            // parse_json(text[, default]): the value of a JSON text; `default` (or an error) when it is not JSON.
            let v = try a.require(0)
            guard let text = v.stringValue else { return v }
            do {
                return try Value(json: text)
            } catch {
                if let d = a.value(1, "default") { return d }
                throw ExpressionError("not JSON: \(text)")
            }
        }
        f["matches"] = Function(deterministic: true) { _, a in
            .bool(Pattern(try a.require(1)).matches(try a.require(0)))
        }
        // Functions of their own namespaces, each in its own file.
        for (name, function) in logQueryFunctions { f[name] = function }
        for (name, function) in durationFormatFunctions { f[name] = function }
        for (name, function) in textFunctions { f[name] = function }
        return FunctionLibrary(f)
    }()

    /// Functions that need no context, for reuse inside other functions.
    private static var ctxFree: FunctionLibrary { standard }

    /// A number as an Int, truncated; an error (not a crash) when it is not finite or too large.
    static func whole(_ d: Double) throws(ExpressionError) -> Int {
        guard d.isFinite, abs(d) < 9e15 else { throw ExpressionError("\(d) is not a usable whole number") }
        return Int(d)
    }

    private static func extreme(_ a: FunctionArguments, _ better: (Double, Double) -> Bool) throws(ExpressionError) -> Value {
        let items = a.count == 1 ? (a.positional[0].arrayValue ?? a.positional) : a.positional
        var best: Value?
        for v in items {
            guard let d = v.doubleValue else { throw ExpressionError("expected numbers, found \(v.kindName)") }
            if best == nil || better(d, best!.doubleValue!) { best = v }
        }
        guard let best else { throw ExpressionError("no values") }
        return best
    }

    static func uuid(_ random: inout SeededRandom) -> String {
        var bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-"
            + String(c[20..<32])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds of `CLOCK_MONOTONIC`: the clock `mono_ns()` reads, which another process on the same
/// machine (a load generator, Python's `time.monotonic_ns()`, Node's `process.hrtime.bigint()`) reads too.
public func monotonicNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
}

@inline(__always) func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func _log(_ x: Double) -> Double { log(x) }
