import TapedeckCore
import TapedeckScenario
import TapedeckProtocol

extension SimulatorWorld {
    /// Renders the first events of every scenario through their profiles (topic, envelope and
    /// codec) and reports what would fail at run time, at the stream that makes the event:
    /// a template error, or a value the codec rejects (a protobuf field of the wrong type, an
    /// unknown field), named by its path.
    public func renderErrors(eventsPerScenario limit: Int = 500) -> [ScenarioError] {
        var errors: [ScenarioError] = []
        var reported: Set<String> = []
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
                    if reported.insert(error.description).inserted { errors.append(error) }
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
                    let message = "stream '\(event.stream)', event \(event.sequence): profile \(entry.profile.name) cannot send it: \(error)"
                    if reported.insert(event.stream).inserted { errors.append(ScenarioError(message, at: location)) }
                }
            }
        }
        return errors
    }
}
