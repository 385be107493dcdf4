import Foundation
public import TapedeckCore
public import TapedeckProtocol
public import TapedeckScenario
import TapedeckRecording
import OrderedCollections

/// Turns a recording into an editable scenario that plays the recorded server messages again.
///
/// Every message the server sent becomes an event at its recorded time (seconds since its
/// connection opened), in one stream per kind of message (the top-level `type`, `action` or
/// `event`; for messages without one, the names of their object members, such as a protobuf
/// `oneof`). With a profile, events are written in the profile's event form: its `envelope` is read
/// backwards (see the README), and only messages that the envelope could have made are events.
/// Replies to client messages, heartbeats and errors that the profile's own rules produce are
/// left out, since serving the scenario through the profile produces them again.
///
/// ```swift
/// let profile = try ProfileLoader().load("ops-control-center")
/// let scenario = try ScenarioGenerator(profile: profile).generate(recording: "rec.sqlite")
/// print(scenario.yaml)
/// ```
public struct ScenarioGenerator: Sendable {
    /// The profile whose event form the scenario is written in; `nil` writes the messages as they are.
    public var profile: Profile?
    /// How `profile:` is written in the scenario (a built-in name or a path); default: the profile's name.
    public var profileReference: String?
    /// An existing scenario for the same profile. Its `entities`, `settings` and `vars` are copied
    /// (the recording does not carry the data the profile consults, such as known jobs, sessions or
    /// API keys); messages that replay its history (the profile's `history.initial`) are left out;
    /// and event fields the envelope does not send (a tenant, a scope) are taken from its most
    /// similar event.
    public var base: Scenario?
    /// The scenario's name; default: the recording's name.
    public var name: String?

    public init(profile: Profile? = nil, profileReference: String? = nil, base: Scenario? = nil, name: String? = nil) {
        self.profile = profile
        self.profileReference = profileReference
        self.base = base
        self.name = name
    }

    /// Reads the recording at `path` and writes its scenario.
    public func generate(recording path: String) throws(ScenarioGeneratorError) -> GeneratedScenario {
        let reader: RecordingReader
        let stored: StoredRecording
        let connections: [StoredConnection]
        do {
            reader = try RecordingReader(path: path)
            stored = try reader.recording()
            connections = try reader.connections()
        } catch {
            throw ScenarioGeneratorError.unreadable(path, "\(error)")
        }
        let decoder: MessageDecoder
        do {
            decoder = try MessageDecoder(codec: profile?.codec ?? .json)
        } catch {
            throw ScenarioGeneratorError.codec(profile?.name ?? "", "\(error)")
        }
        let classifier = MessageClassifier(profile: profile, base: base)

        var result = GeneratedScenario(
            name: name ?? Self.defaultName(stored.metadata.name, path: path),
            profile: profile.map { profileReference ?? $0.name },
            recording: (path as NSString).lastPathComponent)
        result.entities = base?.entities ?? .emptyObject
        result.settings = base?.settings ?? .emptyObject
        result.vars = base?.vars ?? .emptyObject
        result.connections = connections.count

        var streamIndex: [String: Int] = [:]
        var earlier: Set<Value> = []
        for connection in connections {
            let opened = connection.info.openedAt?.offsetNanos
            var mine: [Value] = []
            var messages: [(time: Double, value: Value?)] = []
            do {
                var assembler = MessageAssembler()
                try reader.forEachFrame(connection: connection.id) { stored in
                    let frame = stored.frame
                    guard frame.direction == .serverToClient, let message = assembler.add(frame) else { return }
                    let offset = frame.timestamp?.offsetNanos ?? 0
                    let time = max(0, Double(offset - (opened ?? offset)) / 1e9)
                    messages.append((time, frame.decoded ?? decoder.decode(message)))
                }
            } catch {
                throw ScenarioGeneratorError.unreadable(path, "\(error)")
            }
            for (time, value) in messages {
                result.serverMessages += 1
                guard let value else { result.undecodable += 1; continue }
                switch classifier.classify(value) {
                case .reply: result.replies += 1
                case .notAnEvent: result.notEvents += 1
                case .history: result.history += 1
                case .event(let event, key: let key):
                    if earlier.contains(event) { result.duplicates += 1; continue }
                    mine.append(event)
                    let streamName = Self.streamName(key)
                    if streamIndex[streamName] == nil {
                        streamIndex[streamName] = result.streams.count
                        result.streams.append(GeneratedScenario.Stream(name: streamName, events: []))
                    }
                    result.streams[streamIndex[streamName]!].events.append(GeneratedScenario.Event(time: time, value: event))
                }
            }
            earlier.formUnion(mine)
        }
        for i in result.streams.indices { result.streams[i].events.sort { $0.time < $1.time } }
        return result
    }

    static func defaultName(_ name: String, path: String) -> String {
        if !name.isEmpty { return name }
        return ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// A stream name from a message key: letters, digits, `-` and `_`.
    static func streamName(_ key: String) -> String {
        var out = ""
        for c in key.unicodeScalars {
            if c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-" { out.unicodeScalars.append(c) }
            else if !out.hasSuffix("-") { out += "-" }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "messages" : out
    }
}
