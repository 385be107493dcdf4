import Foundation
public import TapedeckCore
public import TapedeckProtocol
public import TapedeckScenario
import TapedeckRecording
import OrderedCollections

/// Turns a recording into an editable scenario that plays the recorded server messages again.
///
/// Every message the server sent becomes an event at its recorded time (seconds since its
/// connection started, see `origin`), in one stream per kind of message (the top-level `type`, `action` or
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
        let decoder = profile.map(ProfileFrameDecoder.init(profile:)) ?? ProfileFrameDecoder(profiles: nil)
        if let profile, case .protobuf(let descriptor, _) = profile.codec, !decoder.decodesBinary {
            throw ScenarioGeneratorError.codec(profile.name, "the descriptor set \(descriptor) does not load")
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
            var mine: [Value] = []
            var messages: [(offset: Int64, value: Value?)] = []
            var firstClientMessage: Int64?
            do {
                var assembler = MessageAssembler()
                try reader.forEachFrame(connection: connection.id) { stored in
                    let frame = stored.frame
                    let offset = frame.timestamp?.offsetNanos ?? 0
                    if frame.direction == .clientToServer {
                        if firstClientMessage == nil, frame.opcode == .text || frame.opcode == .binary { firstClientMessage = offset }
                        return
                    }
                    guard let message = assembler.add(frame) else { return }
                    messages.append((offset, frame.decoded ?? decoder.decode(binary: message.opcode == .binary, message.payload)))
                }
            } catch {
                throw ScenarioGeneratorError.unreadable(path, "\(error)")
            }
            let outcomes = messages.map { $0.value.map(classifier.classify) }
            let origin = Self.origin(
                opened: connection.info.openedAt?.offsetNanos, firstClientMessage: firstClientMessage,
                firstReply: zip(messages, outcomes).first { if case .event? = $0.1 { false } else { $0.1 != nil } }?.0.offset,
                firstEvent: zip(messages, outcomes).first { if case .event? = $0.1 { true } else { false } }?.0.offset)
            for (message, outcome) in zip(messages, outcomes) {
                result.serverMessages += 1
                guard let outcome else { result.undecodable += 1; continue }
                switch outcome {
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
                    let time = max(0, Double(message.offset - (origin ?? message.offset)) / 1e9)
                    result.streams[streamIndex[streamName]!].events.append(GeneratedScenario.Event(time: time, value: event))
                }
            }
            earlier.formUnion(mine)
        }
        for i in result.streams.indices { result.streams[i].events.sort { $0.time < $1.time } }
        for path in profile?.requires.events ?? [] {
            let parts = path.split(separator: ".").map(String.init)
            let lacking = result.streams.reduce(0) { n, stream in
                n + stream.events.filter { e in (parts.reduce(Optional(e.value)) { v, p in v?[p] } ?? .null).isNull }.count
            }
            if lacking > 0 { result.missingRequired.append((path, lacking)) }
        }
        return result
    }

    /// When a connection's timeline started. The recorder notes when the client's upgrade request
    /// arrived, before it connected to the server; the server's side was open by the time either
    /// side sent a message. So the start is the first client message or the first message the
    /// profile made by itself (such as a greeting on connect), unless an event came before them
    /// (a server that pushes at once), in which case it is the upgrade request.
    static func origin(opened: Int64?, firstClientMessage: Int64?, firstReply: Int64?, firstEvent: Int64?) -> Int64? {
        let candidates = [firstClientMessage, firstReply].compactMap { $0 }
        guard let first = candidates.min(), first <= (firstEvent ?? .max) else { return opened ?? firstEvent }
        return first
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
