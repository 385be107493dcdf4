import Foundation
import TapedeckCore
import TapedeckProtocol
public import TapedeckRecording

/// Compares two recordings: pairs their connections, aligns and compares their messages under the
/// rules, and measures timing drift. Both files are streamed; memory holds a small key per message.
///
/// ```swift
/// let diff = try RecordingComparator(options: DiffOptions(ignore: ["$.data.id"])).compare(expected: "a.sqlite", actual: "b.sqlite")
/// print(DiffReportRenderer.text(diff, color: false))
/// exit(DiffExitStatus(diff).rawValue)
/// ```
public struct RecordingComparator: Sendable {
    public var options: DiffOptions

    public init(options: DiffOptions = DiffOptions()) {
        self.options = options
    }

    /// Compares `actual` against `expected` (the baseline).
    public func compare(expected: String, actual: String) throws(DiffError) -> RecordingDiff {
        let readerE = try open(expected)
        let readerA = try open(actual)
        do {
            let recE = try readerE.recording()
            let recA = try readerA.recording()
            var notes: [String] = []
            let (rules, decoder) = try resolveRules(expected: expected, actual: actual, profiles: (recE.metadata.profile, recA.metadata.profile), notes: &notes)
            let connsE = try readerE.connections()
            let connsA = try readerA.connections()
            let comparer = ConnectionComparer(expectedReader: readerE, actualReader: readerA, rules: rules, decoder: decoder, options: options)
            var connections: [ConnectionDiff] = []
            var messagesE = 0, messagesA = 0
            for (e, a) in options.match.pair(connsE, connsA) {
                let diff: ConnectionDiff
                switch (e, a) {
                case let (e?, a?):
                    let (d, fellBack) = try comparer.compare(expected: e, actual: a)
                    if fellBack {
                        notes.append("\(d.label): the message sequences differ too much to align within \(options.maxAlignmentEdits) edits; the middle was paired by position")
                    }
                    diff = d
                case let (e?, nil): diff = try comparer.unpaired(e, expectedSide: true)
                case let (nil, a?): diff = try comparer.unpaired(a, expectedSide: false)
                default: continue
                }
                messagesE += diff.expectedMessages
                messagesA += diff.actualMessages
                connections.append(diff)
            }
            return RecordingDiff(
                expected: RecordingSide(path: expected, name: recE.metadata.name, profile: recE.metadata.profile, connections: connsE.count, messages: messagesE),
                actual: RecordingSide(path: actual, name: recA.metadata.name, profile: recA.metadata.profile, connections: connsA.count, messages: messagesA),
                rules: rules, match: options.match, timingToleranceNanos: options.timingToleranceNanos, notes: notes, connections: connections)
        } catch let error as DiffError {
            throw error
        } catch {
            throw .unreadable("\(expected) or \(actual): \(error)")
        }
    }

    private func open(_ path: String) throws(DiffError) -> RecordingReader {
        guard FileManager.default.fileExists(atPath: path) else { throw .unreadable("\(path): no such file") }
        do {
            return try RecordingReader(path: path)
        } catch {
            throw .unreadable("\(path): \(error)")
        }
    }

    /// The rules in order: the profile's preset, rules files (given, then found beside the recordings),
    /// then `--ignore`. Also the decoder (the profile's codec for binary frames).
    func resolveRules(
        expected: String, actual: String, profiles: (String?, String?), notes: inout [String]
    ) throws(DiffError) -> (DiffRules, MessageDecoder) {
        var rules = DiffRules()
        var decoder = MessageDecoder()
        let loader = ProfileLoader()
        var profile: Profile?
        if let explicit = options.profile {
            do {
                profile = try loader.load(explicit)
            } catch {
                throw .unreadable("profile \(explicit): \(error)")
            }
        } else if let name = profiles.0 ?? profiles.1 {
            if let other = profiles.1, let first = profiles.0, other != first {
                notes.append("the recordings name different profiles (\(first), \(other)); using \(first)")
            }
            do {
                profile = try loader.load(name)
            } catch {
                notes.append("profile '\(name)' could not be loaded, so its diff preset and codec do not apply: \(error)")
            }
        }
        if let profile {
            decoder = try MessageDecoder(profile: profile)
            if options.useProfilePreset { try rules.add(profile.diff) }
        }
        var files = options.rulesFiles
        if options.discoverRulesFiles {
            for recording in [expected, actual] {
                let dir = (recording as NSString).deletingLastPathComponent
                let candidate = ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(DiffOptions.rulesFileName)
                let standardized = (candidate as NSString).standardizingPath
                if FileManager.default.fileExists(atPath: standardized), !files.map({ ($0 as NSString).standardizingPath }).contains(standardized) {
                    files.append(candidate)
                }
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { throw .unreadable("rules file \(file)") }
            do {
                let preset = try loader.loadDiffPreset(text: String(decoding: data, as: UTF8.self), file: file)
                try rules.add(preset)
            } catch let error as DiffError {
                throw error
            } catch {
                throw .badRule("\(error)")
            }
            if !options.rulesFiles.contains(file) { notes.append("rules from \(file)") }
        }
        for rule in options.ignore { try rules.add(ignore: rule) }
        return (rules, decoder)
    }
}
