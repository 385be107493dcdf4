import Foundation
public import TapedeckCore
import Yams
import OrderedCollections

/// Loads scenario files: YAML composed to nodes (so every error has a line and column), includes
/// resolved, every key and template checked.
public struct ScenarioLoader: Sendable {
    /// Functions templates may call.
    public var functions: FunctionLibrary

    public init(functions: FunctionLibrary = .standard) {
        self.functions = functions
    }

    static let topLevelKeys = [
        "scenario", "description", "profile", "seed", "speed", "loop", "start", "vars", "include", "entities",
        "settings", "streams", "tests", "faults",
    ]
    static let faultKeys = [
        "at", "on_message", "kind", "to", "code", "reason", "seconds", "status", "retry_after", "percent", "count", "ms", "jitter_ms", "bytes_per_second", "direction",
    ]
    /// The kinds each kind-specific field of a fault applies to.
    static let faultFieldKinds: [(String, Set<String>)] = [
        ("code", ["close"]), ("reason", ["close"]), ("status", ["refuse_upgrades"]), ("retry_after", ["refuse_upgrades"]),
        ("percent", ScheduledFault.shareKinds), ("count", ["corrupt"]), ("ms", ["delay"]), ("jitter_ms", ["delay"]),
        ("bytes_per_second", ["bandwidth"]), ("direction", ["stall"]),
    ]
    static let streamKeys = ["name", "profile", "at", "after", "every", "rate", "count", "for", "until", "jitter", "vars", "event", "progress", "events"]
    static let timedEventKeys = ["at", "event"]
    static let progressKeys = ["duration", "steps", "stop_at", "phases", "event", "final"]
    /// Root names that stream templates can read.
    public static let eventNames: Set<String> = ["vars", "entities", "stream", "t", "iteration"]

    /// Loads and checks a scenario file.
    public func load(file path: String) throws(ScenarioErrors) -> Scenario {
        var stack: [String] = []
        let (scenario, errors) = loadFile(path, display: path, stack: &stack, isRoot: true)
        if errors.contains(where: { !$0.isWarning }) { throw ScenarioErrors(errors.filter { !$0.isWarning }) }
        return scenario
    }

    /// Loads and checks scenario text, as if it were the file `file`.
    public func load(text: String, file: String = "<scenario>") throws(ScenarioErrors) -> Scenario {
        var stack: [String] = []
        let (scenario, errors) = loadText(text, path: file, display: file, stack: &stack, isRoot: true)
        if errors.contains(where: { !$0.isWarning }) { throw ScenarioErrors(errors.filter { !$0.isWarning }) }
        return scenario
    }

    /// A file's scenario as far as it loads (streams with problems left out), with every problem
    /// and warning found: for reporting everything in one run.
    public func loadReportingProblems(file path: String) -> (Scenario, [ScenarioError]) {
        var stack: [String] = []
        return loadFile(path, display: path, stack: &stack, isRoot: true)
    }

    /// Scenario text's scenario as far as it loads, with every problem and warning found, as if it
    /// were the file `file` (relative references resolve from that file's directory).
    public func loadReportingProblems(text: String, file: String) -> (Scenario, [ScenarioError]) {
        var stack: [String] = []
        return loadText(text, path: file, display: file, stack: &stack, isRoot: true)
    }

    /// Every problem (and warning) in a file, empty when it is valid.
    public func validate(file path: String) -> [ScenarioError] {
        var stack: [String] = []
        return loadFile(path, display: path, stack: &stack, isRoot: true).1
    }

    func loadFile(_ path: String, display: String, stack: inout [String], isRoot: Bool) -> (Scenario, [ScenarioError]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return (Scenario(name: "", file: display), [ScenarioError("cannot read file", at: SourceLocation(file: display, line: 1, column: 1))])
        }
        if data.starts(with: Array("SQLite format 3\u{0}".utf8)) {
            return (Scenario(name: "", file: display), [ScenarioError("file is a SQLite database (a recording), not a scenario", at: SourceLocation(file: display, line: 1, column: 1))])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return (Scenario(name: "", file: display), [ScenarioError("file is not UTF-8 text", at: SourceLocation(file: display, line: 1, column: 1))])
        }
        return loadText(text, path: path, display: display, stack: &stack, isRoot: isRoot)
    }

    func loadText(_ text: String, path: String, display: String, stack: inout [String], isRoot: Bool) -> (Scenario, [ScenarioError]) {
        let r = NodeReader(file: display)
        r.functions = functions
        var s = Scenario(name: "", file: display)
        guard let root = r.compose(text) else {
            if r.errors.isEmpty { r.error("the file is empty; a scenario needs at least 'scenario' and 'streams'", at: SourceLocation(file: display, line: 1, column: 1)) }
            return (s, r.errors)
        }
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        stack.append(canonical)
        defer { stack.removeLast() }

        guard let pairs = r.mapping(root, what: "the scenario", allowed: Self.topLevelKeys) else { return (s, r.errors) }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })

        // Includes come first, so that this file's own values win.
        var streams: [StreamSpec] = []
        if let inc = keys["include"] {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let items: [Node] = if case .sequence(let seq) = inc { Array(seq) } else { [inc] }
            for item in items {
                guard let rel = r.string(item, what: "an include") else { continue }
                let target = rel.hasPrefix("/") ? rel : directory.appendingPathComponent(rel).standardizedFileURL.path
                let shown = rel.hasPrefix("/") ? rel : (display as NSString).deletingLastPathComponent.isEmpty ? rel : ((display as NSString).deletingLastPathComponent as NSString).appendingPathComponent(rel)
                if let cycleStart = stack.firstIndex(of: URL(fileURLWithPath: target).standardizedFileURL.path) {
                    let chain = (stack[cycleStart...] + [target]).map { ($0 as NSString).lastPathComponent }
                    r.error("include cycle: \(chain.joined(separator: " -> "))", at: item)
                    continue
                }
                guard FileManager.default.fileExists(atPath: target) else {
                    r.error("included file '\(rel)' does not exist", at: item)
                    continue
                }
                let (fragment, errors) = loadFile(target, display: shown, stack: &stack, isRoot: false)
                r.absorb(errors)
                s.vars = s.vars.merging(fragment.vars)
                s.entities = s.entities.merging(fragment.entities)
                s.entityLocations.merge(fragment.entityLocations) { mine, _ in mine }
                s.settings = s.settings.merging(fragment.settings)
                streams += fragment.streams
                if s.profile == nil { s.profile = fragment.profile }
            }
        }

        if let n = keys["scenario"] { s.name = r.string(n, what: "'scenario' (the scenario's name)") ?? "" }
        else if isRoot { r.error("missing key 'scenario' (the scenario's name)", at: root) }
        if let n = keys["description"] { s.description = r.string(n, what: "'description'") }
        if let n = keys["profile"] { s.profile = r.string(n, what: "'profile'") }
        if let n = keys["seed"] {
            if let t = r.text(n, what: "'seed'") {
                if let u = UInt64(t) { s.seed = u }
                else if let i = Int64(t) { s.seed = UInt64(bitPattern: i) }
                else { s.seed = SeededRandom.stableHash(t) }
            }
        }
        if let n = keys["speed"] {
            if let d = r.number(n, what: "'speed'") {
                if d < 0.1 || d > 1000 { r.error("'speed' must be between 0.1 and 1000, found \(d)", at: n) } else { s.speed = d }
            }
        }
        if let n = keys["loop"] { s.loop = r.bool(n, what: "'loop'") ?? false }
        if let n = keys["start"], let t = r.string(n, what: "'start' (first-message, first-connection, immediately or an ISO-8601 time)") {
            if let policy = StartPolicy(rawValue: t) {
                s.startPolicy = policy
            } else if let epoch = Timestamp.parse(t) {
                s.epoch = epoch
            } else {
                r.error("expected 'start' to be first-message, first-connection, immediately, or an ISO-8601 time such as 2025-01-17T10:00:00Z, found '\(t)'", at: n)
            }
        }
        if let n = keys["vars"] {
            if case .mapping = n { s.vars = s.vars.merging(r.value(n)) } else { r.error("expected 'vars' to be a mapping, found \(r.describe(n))", at: n) }
        }
        if let n = keys["entities"] {
            if case .mapping = n {
                s.entities = s.entities.merging(r.value(n))
                // Where each entry of each table is written, for errors about it.
                for table in r.mapping(n, what: "'entities'") ?? [] {
                    guard case .mapping = table.value else { continue }
                    for entry in r.mapping(table.value, what: "an entity table") ?? [] {
                        s.entityLocations["\(table.key).\(entry.key)"] = r.location(entry.keyNode)
                    }
                }
            } else {
                r.error("expected 'entities' to be a mapping, found \(r.describe(n))", at: n)
            }
        }
        if let n = keys["settings"] {
            if case .mapping = n { s.settings = s.settings.merging(r.value(n)) } else { r.error("expected 'settings' to be a mapping, found \(r.describe(n))", at: n) }
        }
        // The root file knows every var (its own and its fragments'): references are checked.
        if isRoot { r.knownVars = Set(s.vars.objectValue?.keys.map { $0 } ?? []) }
        if let n = keys["streams"] {
            if case .sequence(let seq) = n {
                for (i, item) in seq.enumerated() {
                    if let stream = readStream(item, index: i, reader: r) { streams.append(stream) }
                }
            } else {
                r.error("expected 'streams' to be a list of streams, found \(r.describe(n))", at: n)
            }
        } else if isRoot && streams.isEmpty {
            r.error("missing key 'streams' (the event streams)", at: root)
        }

        // Stream names are unique; `after` names a stream that ends; no cycles.
        var byName: [String: StreamSpec] = [:]
        for st in streams {
            if let other = byName[st.name] {
                r.error("duplicate stream name '\(st.name)' (first defined at \(other.location))", at: st.location)
            } else {
                byName[st.name] = st
            }
        }
        if isRoot {
            for st in streams {
                guard let after = st.after else { continue }
                guard let target = byName[after] else {
                    var message = "'after' names an unknown stream '\(after)'"
                    if let sug = Suggestion.closest(to: after, in: byName.keys) { message += "; did you mean '\(sug)'?" }
                    r.error(message, at: st.location)
                    continue
                }
                if target.nominalLength == nil {
                    r.error("stream '\(st.name)' starts after '\(after)', but '\(after)' never ends (give it count, for or until)", at: st.location)
                }
                var seen: Set<String> = [st.name]
                var cursor = target
                while let next = cursor.after, let n = byName[next] {
                    if seen.contains(n.name) || n.name == st.name {
                        r.error("'after' cycle through stream '\(st.name)'", at: st.location)
                        break
                    }
                    seen.insert(n.name)
                    cursor = n
                }
            }
        }
        s.streams = streams
        if let n = keys["tests"] { s.tests = readTests(n, reader: r) }
        if let n = keys["faults"] { s.faults = readFaults(n, reader: r) }
        return (s, r.errors)
    }

    /// `faults: [{at, kind, to?, code?, reason?, seconds?, status?, retry_after?, percent?, count?, ms?,
    /// jitter_ms?, bytes_per_second?, direction?}]`.
    func readFaults(_ node: Node, reader r: NodeReader) -> [ScheduledFault] {
        guard case .sequence(let seq) = node else {
            r.error("expected 'faults' to be a list of {at, kind, ...}, found \(r.describe(node))", at: node)
            return []
        }
        var out: [ScheduledFault] = []
        for (i, item) in seq.enumerated() {
            guard let pairs = r.mapping(item, what: "an item of 'faults'", allowed: Self.faultKeys) else { continue }
            let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            var onMessage: Value?
            if let n = keys["on_message"] {
                guard keys["at"] == nil else {
                    r.error("fault \(i + 1) has both 'at' and 'on_message': a fault happens at a time or when a client message matches, not both", at: n)
                    continue
                }
                let pattern = r.value(n)
                guard case .mapping = n, let fields = pattern.objectValue, !fields.isEmpty else {
                    r.error("expected 'on_message' to be a mapping of the fields a client message must have, e.g. { action: subscribe }", at: n)
                    continue
                }
                onMessage = pattern
            }
            let atNode = keys["at"]
            guard atNode != nil || onMessage != nil else {
                r.error("fault \(i + 1) needs 'at' (its scenario time, e.g. 30s) or 'on_message' (the client message that sets it off)", at: item)
                continue
            }
            guard let kindNode = keys["kind"] else {
                r.error("fault \(i + 1) needs 'kind': one of \(ScheduledFault.kinds.joined(separator: ", "))", at: item)
                continue
            }
            let at: Double
            if let atNode {
                guard let d = r.duration(atNode, what: "'at'") else { continue }
                at = d
            } else {
                at = 0
            }
            guard let kind = r.string(kindNode, what: "'kind'") else { continue }
            guard ScheduledFault.kinds.contains(kind) else {
                var message = "unknown fault kind '\(kind)': use one of \(ScheduledFault.kinds.joined(separator: ", "))"
                if let sug = Suggestion.closest(to: kind, in: ScheduledFault.kinds) { message += "; did you mean '\(sug)'?" }
                r.error(message, at: kindNode)
                continue
            }
            var spec: Value = ["kind": .string(kind)]
            var ok = true
            if let n = keys["to"] {
                if case .mapping = n { spec["to"] = r.value(n) } else { r.error("expected 'to' to be a mapping (path, profile, user, tenant, connection)", at: n); ok = false }
            }
            if let n = keys["code"] {
                if let c = r.integer(n, what: "'code'") {
                    if CloseCode.mayBeSent(c) { spec["code"] = .int(c) } else {
                        r.error("close code \(c) cannot be sent: use 1000-1003, 1007-1014 or 3000-4999", at: n)
                        ok = false
                    }
                } else { ok = false }
            }
            if let n = keys["reason"] { if let t = r.string(n, what: "'reason'") { spec["reason"] = .string(t) } else { ok = false } }
            if let n = keys["seconds"] {
                if let d = r.duration(n, what: "'seconds'", allowZero: false) { spec["seconds"] = .double(d) } else { ok = false }
            } else if ScheduledFault.timedKinds.contains(kind), kind != "corrupt" {
                r.error("a \(kind) fault needs 'seconds' (how long, e.g. 5s)", at: item)
                ok = false
            }
            if let n = keys["status"] {
                if let c = r.integer(n, what: "'status'"), (400...599).contains(c) { spec["status"] = .int(c) } else {
                    r.error("'status' must be an HTTP error status, 400 to 599", at: n)
                    ok = false
                }
            }
            if let n = keys["percent"] {
                if let p = r.number(n, what: "'percent'"), p > 0, p <= 100 { spec["percent"] = .double(p) } else {
                    r.error("'percent' must be more than 0 and at most 100", at: n)
                    ok = false
                }
            } else if ScheduledFault.shareKinds.contains(kind), kind != "corrupt" {
                r.error("a \(kind) fault needs 'percent' (the share of events, e.g. 50)", at: item)
                ok = false
            }
            if kind == "corrupt", keys["count"] == nil, keys["percent"] == nil || keys["seconds"] == nil {
                r.error("a corrupt fault needs 'percent' and 'seconds' (a share of events for a while, e.g. 10 and 30s) or 'count' (how many events)", at: item)
                ok = false
            }
            if let n = keys["count"] {
                if let c = r.integer(n, what: "'count'", minimum: 1) { spec["count"] = .int(c) } else { ok = false }
            }
            if let n = keys["ms"] {
                if let m = r.number(n, what: "'ms'"), m > 0, m <= ScheduledFault.maxDelayMilliseconds { spec["ms"] = .double(m) } else {
                    r.error("'ms' must be a number of milliseconds, more than 0 and at most 60000", at: n)
                    ok = false
                }
            } else if kind == "delay" {
                r.error("a delay fault needs 'ms' (how many milliseconds later each event leaves, e.g. 200)", at: item)
                ok = false
            }
            if let n = keys["jitter_ms"] {
                if let j = r.number(n, what: "'jitter_ms'"), j >= 0, j <= (spec["ms"]?.doubleValue ?? ScheduledFault.maxDelayMilliseconds) {
                    spec["jitter_ms"] = .double(j)
                } else {
                    r.error("'jitter_ms' must be a number of milliseconds from 0 to the delay's 'ms'", at: n)
                    ok = false
                }
            }
            if let n = keys["bytes_per_second"] {
                if let b = r.integer(n, what: "'bytes_per_second'"), ScheduledFault.bandwidthRange.contains(b) { spec["bytes_per_second"] = .int(b) } else {
                    r.error("'bytes_per_second' must be a whole number from 1 to 1000000000", at: n)
                    ok = false
                }
            } else if kind == "bandwidth" {
                r.error("a bandwidth fault needs 'bytes_per_second' (the cap, e.g. 2048)", at: item)
                ok = false
            }
            if let n = keys["direction"] {
                if let d = r.string(n, what: "'direction'"), ScheduledFault.stallDirections.contains(d) { spec["direction"] = .string(d) } else {
                    r.error("'direction' must be one of \(ScheduledFault.stallDirections.joined(separator: ", "))", at: n)
                    ok = false
                }
            }
            // Fields of another kind would be ignored: say so rather than let them look applied.
            for (key, allowed) in Self.faultFieldKinds where keys[key] != nil && !allowed.contains(kind) {
                r.error("'\(key)' does not apply to a \(kind) fault (only to \(allowed.sorted().joined(separator: ", ")))", at: keys[key]!)
                ok = false
            }
            if let n = keys["retry_after"] {
                if let c = r.integer(n, what: "'retry_after'", minimum: 0) { spec["retry_after"] = .int(c) } else { ok = false }
            }
            if ok { out.append(ScheduledFault(at: at, spec: spec, location: r.location(item), onMessage: onMessage)) }
        }
        return out.sorted { $0.at < $1.at }
    }

    func readStream(_ node: Node, index: Int, reader r: NodeReader) -> StreamSpec? {
        if case .mapping(let m) = node, let job = m.first(where: { $0.key.string == "job" }) {
            r.error("a stream's 'job' is now 'progress' (a run in steps, for any kind of run): write the job's own values (id, total lines...) under the stream's 'vars', 'progress' then 'event' and 'final' for its progress and completion events, 'stop_at' for fail_at, 'phases' for statuses; templates read progress.fraction, progress.percent, progress.phase", at: job.key)
            return nil
        }
        guard let pairs = r.mapping(node, what: "a stream", allowed: Self.streamKeys) else { return nil }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let name = keys["name"].flatMap { r.string($0, what: "a stream's 'name'") } ?? "stream-\(index + 1)"
        let errorsBefore = r.problemCount
        var st = StreamSpec(name: name, location: r.location(node), kind: .events(.constant(.null)))
        // The stream's own vars are known to its templates, over the scenario's.
        let knownVars = r.knownVars
        defer { r.knownVars = knownVars }
        if let n = keys["vars"] {
            if case .mapping = n {
                st.vars = r.value(n)
                r.knownVars = knownVars?.union(st.vars.objectValue?.keys.map { $0 } ?? [])
            } else {
                r.error("expected a stream's 'vars' to be a mapping, found \(r.describe(n))", at: n)
            }
        }
        if let n = keys["profile"] { st.profile = r.string(n, what: "'profile'") }
        if let n = keys["at"] { st.at = r.duration(n, what: "'at'") ?? 0 }
        if let n = keys["after"] { st.after = r.string(n, what: "'after' (a stream name)") }
        if let n = keys["every"] { st.every = r.duration(n, what: "'every'", allowZero: false) }
        if let n = keys["rate"] {
            if keys["every"] != nil { r.error("give either 'every' or 'rate', not both", at: n) }
            if let t = r.text(n, what: "'rate'") {
                let parts = t.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                let per = parts.count == 2 ? DurationText.seconds(parts[1].first?.isNumber == true ? parts[1] : "1" + parts[1]) : nil
                if parts.count == 2, let count = Double(parts[0]), count > 0, let per, per > 0 {
                    st.every = per / count
                } else {
                    r.error("expected 'rate' like 500/s, 20/m or 3/1h, found '\(t)'", at: n)
                }
            }
        }
        if let n = keys["count"] { st.count = r.integer(n, what: "'count'", minimum: 1) }
        if let n = keys["for"] { st.duration = r.duration(n, what: "'for'") }
        if let n = keys["until"] { st.until = r.duration(n, what: "'until'") }
        if let n = keys["jitter"] { st.jitter = r.duration(n, what: "'jitter'") ?? 0 }
        if keys["every"] == nil, keys["rate"] == nil, st.count != nil || st.duration != nil, keys["progress"] == nil {
            r.error("'count' and 'for' need 'every' or 'rate' to space the events", at: keys["count"] ?? keys["for"]!)
        }
        if let list = keys["events"] {
            for other in ["event", "progress", "every", "rate", "count", "for"] {
                if let n = keys[other] { r.error("a stream with 'events' (a list of timed events) cannot also have '\(other)'", at: n) }
            }
            if let events = readTimedEvents(list, reader: r) {
                st.kind = .timed(events)
                if case .sequence(let seq) = list {
                    for (i, item) in seq.enumerated() {
                        guard case .mapping(let m) = item, let e = m["event"] else { continue }
                        st.fieldLocations.merge(r.leafLocations(e, prefix: "events[\(i)]:")) { a, _ in a }
                    }
                }
            }
            return r.errors.count == errorsBefore ? st : nil
        }
        switch (keys["event"], keys["progress"]) {
        case (let e?, nil):
            if let t = r.template(e, names: Self.eventNames) {
                st.kind = .events(t)
                st.fieldLocations = r.leafLocations(e, prefix: "event:")
            }
        case (nil, let p?):
            if let run = readProgress(p, reader: r) {
                st.kind = .progress(run)
                if case .mapping(let m) = p {
                    for (k, v) in m {
                        guard case .scalar(let ks) = k, ["event", "final"].contains(ks.string) else { continue }
                        st.fieldLocations.merge(r.leafLocations(v, prefix: "progress." + ks.string + ":")) { a, _ in a }
                    }
                }
            }
        case (_?, let p?):
            r.error("a stream has either 'event' or 'progress', not both", at: p)
        case (nil, nil):
            r.error("stream '\(name)' needs an 'event' (a template), 'events' (a list of timed events) or 'progress' (a run in steps)", at: node)
        }
        return r.problemCount == errorsBefore ? st : nil
    }

    /// `events:`: a non-empty list of `{at: <offset from the stream's start>, event: <template>}`,
    /// in time order.
    func readTimedEvents(_ node: Node, reader r: NodeReader) -> [TimedEvent]? {
        guard case .sequence(let seq) = node else {
            r.error("expected 'events' to be a list of {at, event}, found \(r.describe(node))", at: node)
            return nil
        }
        guard !seq.isEmpty else {
            r.error("'events' is empty; give at least one {at, event}", at: node)
            return nil
        }
        var out: [TimedEvent] = []
        var previous = 0.0
        for (i, item) in seq.enumerated() {
            guard let pairs = r.mapping(item, what: "an item of 'events'", allowed: Self.timedEventKeys) else { continue }
            let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            guard let atNode = keys["at"] else { r.error("event \(i + 1) of 'events' needs 'at' (its offset from the stream's start)", at: item); continue }
            guard let eventNode = keys["event"] else { r.error("event \(i + 1) of 'events' needs 'event' (a template)", at: item); continue }
            guard let at = r.duration(atNode, what: "'at'") else { continue }
            if at < previous {
                r.error("event \(i + 1) of 'events' is at \(DurationText.format(at)), before the previous one (\(DurationText.format(previous))); list events in time order", at: atNode)
                continue
            }
            previous = at
            if let t = r.template(eventNode, names: Self.eventNames) { out.append(TimedEvent(at: at, template: t)) }
        }
        return out.count == seq.count ? out : nil
    }

    /// `progress: {duration, steps, stop_at, phases, event, final}`: a run in steps.
    func readProgress(_ node: Node, reader r: NodeReader) -> ProgressRun? {
        guard let pairs = r.mapping(node, what: "'progress' (a run in steps)", allowed: Self.progressKeys) else { return nil }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let names = Self.eventNames.union(["progress"])
        var run = ProgressRun(duration: 60, steps: 10, event: .constant(.null), final: .constant(.null))
        if let n = keys["duration"] { run.duration = r.duration(n, what: "'duration'", allowZero: false) ?? 1 }
        if let n = keys["steps"] { run.steps = r.integer(n, what: "'steps'", minimum: 1) ?? 1 }
        if let n = keys["stop_at"], let f = r.number(n, what: "'stop_at'") {
            if f > 0 && f <= 1 { run.stopAt = f } else { r.error("'stop_at' must be a fraction of the run, above 0 and at most 1, found \(f)", at: n) }
        }
        if let n = keys["phases"] { run.phases = r.strings(n, what: "'phases'") ?? [] }
        if let n = keys["event"] { run.event = r.template(n, names: names) ?? run.event } else { r.error("'progress' needs 'event' (the template of each step's event)", at: node) }
        if let n = keys["final"] { run.final = r.template(n, names: names) ?? run.final } else { r.error("'progress' needs 'final' (the template of the last event)", at: node) }
        return run
    }

}
