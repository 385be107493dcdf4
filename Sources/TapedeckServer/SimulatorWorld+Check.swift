import OrderedCollections
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol

extension SimulatorWorld {
    /// Entities that lack a field their profile requires (`requires.entities`), one error per
    /// entry and field, at the entry.
    public func requirementErrors() -> [ScenarioError] {
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
                    // "stream 's', event 7: message": the same problem whatever the event.
                    let problem = error.message.replacing(/, event \d+:/, with: ":")
                    note(error, problem: problem)
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
