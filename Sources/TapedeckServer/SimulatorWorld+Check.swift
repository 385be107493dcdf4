import OrderedCollections
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol

extension SimulatorWorld {
    /// Entities that lack a field their profile requires (`requires.entities`), one error per
    /// entry and field, at the entry; and events that lack one (`requires.events`), checked over
    /// each scenario's first `eventsPerScenario` events, one error per stream and field.
    public func requirementErrors(eventsPerScenario limit: Int = 500) -> [ScenarioError] {
        entityRequirementErrors() + eventRequirementErrors(eventsPerScenario: limit)
    }

    /// Events without a field their profile requires, reported once per stream and field at the
    /// stream's event template, with the number of events checked that lack it.
    func eventRequirementErrors(eventsPerScenario limit: Int) -> [ScenarioError] {
        var found: [(key: String, first: ScenarioError, count: Int)] = []
        var index: [String: Int] = [:]
        for scenario in scenarios {
            guard scenario.streams.contains(where: { !(entry(for: $0.profile ?? scenario.profile)?.profile.requires.events.isEmpty ?? true) })
            else { continue }
            var it = Timeline(scenario: scenario, epoch: 1_737_109_800).makeIterator()
            for _ in 0..<limit {
                let event: TimelineEvent
                do {
                    guard let e = try it.next() else { break }
                    event = e
                } catch {
                    // Its failing fields are reported by renderErrors; the rest is checked here.
                    guard let partial = it.lastPartialEvent else { continue }
                    event = partial
                }
                guard let entry = entry(for: event.profile), !entry.profile.requires.events.isEmpty,
                    let spec = scenario.streams.first(where: { $0.name == event.stream })
                else { continue }
                for path in entry.profile.requires.events {
                    let parts = path.split(separator: ".").map(String.init)
                    var parent = event.value
                    var parentPath: [String] = []
                    for p in parts.dropLast() {
                        guard let next = parent[p], !next.isNull else { break }
                        parent = next
                        parentPath.append(p)
                    }
                    let missing = parentPath.count < parts.count - 1 || (parent[parts.last!] ?? .null).isNull
                    guard missing else { continue }
                    let key = "\(scenario.file)|\(event.stream)|\(path)"
                    if let i = index[key] {
                        found[i].count += 1
                        continue
                    }
                    var message = "stream '\(event.stream)', event \(event.sequence) has no '\(path)', which profile \(entry.profile.name) requires"
                    // At the field a typo was meant to be, else at the deepest part of the path present.
                    var at = parentPath.joined(separator: ".")
                    if parentPath.count == parts.count - 1, let keys = parent.objectValue?.keys,
                        let near = Suggestion.closest(to: parts.last!, in: Set(keys))
                    {
                        message += "; is '\(near)' meant to be '\(parts.last!)'?"
                        at = (parentPath + [near]).joined(separator: ".")
                    }
                    let location = ["event", "progress", "complete", "events[0]"].lazy.compactMap { spec.fieldLocations["\($0):\(at)"] }.first ?? spec.location
                    index[key] = found.count
                    found.append((key, ScenarioError(message, at: location), 1))
                }
            }
        }
        return found.map { f in
            guard f.count > 1 else { return f.first }
            return ScenarioError(f.first.message + " (and \(f.count - 1) more of the events checked)", at: f.first.location)
        }
    }

    func entityRequirementErrors() -> [ScenarioError] {
        var errors: [ScenarioError] = []
        for scenario in scenarios {
            guard let entry = entry(for: scenario.profile) else { continue }
            for (table, fields) in entry.profile.requires.entities {
                for (id, item) in scenario.entities[table]?.objectValue ?? [:] {
                    let present = Set(item.objectValue?.keys.map { $0 } ?? [])
                    for field in fields where item[field] == nil {
                        var message = "\(table) '\(id)' has no '\(field)', which profile \(entry.profile.name) requires"
                        if let near = Suggestion.closest(to: field, in: present) { message += "; is '\(near)' meant to be '\(field)'?" }
                        let at = scenario.entityLocations["\(table).\(id)"] ?? SourceLocation(file: scenario.file, line: 1, column: 1)
                        errors.append(ScenarioError(message, at: at))
                    }
                }
            }
        }
        return errors
    }

    /// Renders the first events of every scenario through their profiles (topic, envelope and
    /// codec) and reports what would fail at run time, at the stream that makes the event:
    /// a template error, or a value the codec rejects (a protobuf field of the wrong type, an
    /// unknown field), named by its path. Each problem is reported once, with the first event it
    /// affected and how many of the rendered events it affected.
    public func renderErrors(eventsPerScenario limit: Int = 500) -> [ScenarioError] {
        // Problem (location + message without the event number) -> first error and count.
        var problems: [(key: String, first: ScenarioError, count: Int)] = []
        var index: [String: Int] = [:]
        func note(_ error: ScenarioError, problem: String) {
            let key = "\(error.location)|\(problem)"
            if let i = index[key] {
                problems[i].count += 1
            } else {
                index[key] = problems.count
                problems.append((key, error, 1))
            }
        }
        for scenario in scenarios {
            var it = Timeline(scenario: scenario, epoch: 1_737_109_800).makeIterator()
            var seen = 0
            while seen < limit {
                seen += 1
                let event: TimelineEvent
                do {
                    guard let e = try it.next() else { break }
                    event = e
                } catch {
                    // "stream 's', event 7, field 'f': message": the same problem whatever the event.
                    for failure in it.lastFailures.isEmpty ? [error] : it.lastFailures {
                        note(failure, problem: failure.message.replacing(/, event \d+/, with: ""))
                    }
                    continue
                }
                guard let entry = entry(for: event.profile),
                    let location = scenario.streams.first(where: { $0.name == event.stream })?.location
                else { continue }
                do {
                    _ = try entry.render(
                        event, now: 1_737_109_800, random: SeededRandom(seed: UInt64(event.sequence), stream: event.stream),
                        sequence: event.sequence)
                } catch {
                    let problem = "stream '\(event.stream)': profile \(entry.profile.name) cannot send it: \(error)"
                    let message = "stream '\(event.stream)', event \(event.sequence): profile \(entry.profile.name) cannot send it: \(error)"
                    note(ScenarioError(message, at: location), problem: problem)
                }
            }
        }
        return problems.map { p in
            guard p.count > 1 else { return p.first }
            return ScenarioError(p.first.message + " (and \(p.count - 1) more of the events checked)", at: p.first.location)
        }
    }
}
