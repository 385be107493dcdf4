import Foundation
public import TapedeckCore
import OrderedCollections
public import TapedeckScenario
public import TapedeckProtocol

/// What a simulator serves: scenarios, and the profiles their events are for.
public struct SimulatorWorld: Sendable {
    /// A profile with the scenario data that belongs to it.
    public struct ProfileEntry: Sendable {
        public var profile: Profile
        /// Entities of every scenario for this profile, merged.
        public var entities: Value
        /// Profile settings, overridden by the scenarios' `settings`.
        public var settings: Value
        /// The profile's wire codec, built once.
        let codec: FrameCodec
        /// Counters of the profile's shared limits, common to all its connections.
        let sharedLimiter = SharedRateLimiter()

        /// An event as this profile sends it: its topic, its frame (the envelope) and the encoded
        /// item. `now` is what `now()` and `time_ms()` report; `random` and `sequence` feed `uuid()`
        /// and `seq()`.
        func render(_ event: TimelineEvent, now: Double, random: SeededRandom, sequence: Int) throws -> (topic: String?, frame: Value, item: OutboundItem) {
            var ctx = EvaluationContext(
                variables: ["event": event.value, "topic": .null, "settings": settings, "entities": entities, "sub": .null, "conn": .null],
                random: random, sequence: sequence, now: now)
            let topic = try profile.topic.map { try $0.evaluate(in: &ctx).plainText }
            ctx.variables["topic"] = topic.map(Value.string) ?? .null
            var frame = event.value
            if let envelope = profile.envelope {
                do {
                    frame = try envelope.evaluate(in: &ctx)
                } catch {
                    // Each connection envelopes the event per subscription; this one (with `sub`
                    // null) is only for the activity log, and may fail without losing the event.
                    guard profile.rendersPerSubscription else { throw error }
                }
            }
            return (topic, frame, try codec.encode(frame))
        }
    }

    public var scenarios: [Scenario]
    /// Profiles by name, in the order they were first used.
    public var profiles: [String: ProfileEntry]
    public var profileOrder: [String]

    /// Loads the profile of each scenario (and of each stream that names its own).
    public init(scenarios: [Scenario], loader: ProfileLoader = ProfileLoader()) throws(ScenarioErrors) {
        self.scenarios = scenarios
        self.profiles = [:]
        self.profileOrder = []
        var errors: [ScenarioError] = []
        for s in scenarios {
            let directory = (s.file as NSString).deletingLastPathComponent
            var refs: [String] = []
            if let p = s.profile { refs.append(p) }
            refs += s.streams.compactMap(\.profile)
            if refs.isEmpty {
                errors.append(ScenarioError("scenario '\(s.name)' names no profile; add 'profile: <name or path>'", at: SourceLocation(file: s.file, line: 1, column: 1)))
            }
            for ref in Set(refs).sorted() {
                do throws(ScenarioErrors) {
                    let profile = try loader.load(ref, relativeTo: directory)
                    let codec: FrameCodec
                    do {
                        codec = try FrameCodec(spec: profile.codec)
                    } catch {
                        throw ScenarioErrors([ScenarioError("profile '\(profile.name)': cannot load its codec: \(error)", at: SourceLocation(file: profile.source, line: 1, column: 1))])
                    }
                    var entry = profiles[profile.name] ?? ProfileEntry(profile: profile, entities: .emptyObject, settings: profile.settings, codec: codec)
                    if profiles[profile.name] == nil { profileOrder.append(profile.name) }
                    entry.entities = entry.entities.merging(s.entities)
                    entry.settings = entry.settings.merging(s.settings)
                    profiles[profile.name] = entry
                    aliases[ref] = profile.name
                } catch {
                    errors += error.errors
                }
            }
        }
        if !errors.isEmpty { throw ScenarioErrors(errors) }
    }

    /// Profile reference (as written in scenarios) -> profile name.
    public var aliases: [String: String] = [:]

    /// The profile entry for an event's profile reference.
    public func entry(for reference: String?) -> ProfileEntry? {
        guard let reference else { return profileOrder.first.flatMap { profiles[$0] } }
        return profiles[aliases[reference] ?? reference]
    }
}

