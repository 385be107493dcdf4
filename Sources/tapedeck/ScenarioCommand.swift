import ArgumentParser
import Foundation
import TapedeckProtocol
import TapedeckRecording
import TapedeckReplay
import TapedeckScenario

/// `tapedeck scenario`: commands that make scenarios.
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Make scenarios (from recordings).",
        subcommands: [FromRecording.self]
    )

    /// `tapedeck scenario from-recording`.
    struct FromRecording: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "from-recording",
            abstract: "Write a scenario that plays a recording's server messages again.",
            discussion: """
                Every message the server sent becomes an event at its recorded time (seconds since its \
                connection opened), in one stream per kind of message (its top-level type, action or \
                event; else the names of its object members, such as a protobuf oneof), as an \
                `events:` list of timed literal events.

                With a profile (--profile, else the recording's own), events are written in the \
                profile's event form: the profile's envelope is read backwards, and messages that the \
                profile's rules send by themselves (replies, heartbeats, errors) are left out, since \
                serving the scenario through the profile makes them again. Binary frames are decoded \
                with the profile's codec (protobuf descriptor set).

                A recording does not carry the data a profile consults (its entity tables: known jobs, logins, keys) \
                nor event fields the envelope does not send (a tenant, a scope). --base takes them from \
                an existing scenario: its entities, settings and vars are copied, messages replaying its \
                history are left out, and missing event fields come from its most similar event.

                The scenario goes to standard output (or --out); a summary of what was left out goes to \
                standard error. Exit status 2 when the recording or the profile cannot be read.
                """
        )

        @Argument(help: "The recording (.sqlite).")
        var recording: String

        @Option(help: "The profile the events are for: a built-in name or a profile file. Default: the recording's profile.")
        var profile: String?

        @Option(help: "A scenario to copy entities, settings and vars from, and to fill in event fields the frames do not carry.")
        var base: String?

        @Option(help: "The scenario's name. Default: the recording's name.")
        var name: String?

        @Option(name: .shortAndLong, help: "Write the scenario to this file instead of standard output.")
        var out: String?

        func run() async throws {
            do {
                try generate()
            } catch let error as CommandFailure {
                FileHandle.standardError.write(Data("tapedeck scenario from-recording: \(error.message)\n".utf8))
                throw ExitCode(2)
            }
        }

        struct CommandFailure: Error { var message: String }

        func generate() throws {
            guard FileManager.default.isReadableFile(atPath: recording) else {
                throw CommandFailure(message: "cannot read recording \(recording): no such file")
            }
            var baseScenario: Scenario?
            if let base {
                do throws(ScenarioErrors) {
                    baseScenario = try ScenarioLoader().load(file: base)
                } catch {
                    throw CommandFailure(message: "the base scenario has problems:\n\(error)")
                }
            }
            var reference = profile
            if reference == nil {
                do {
                    reference = try RecordingReader(path: recording).recording().metadata.profile
                } catch {
                    throw CommandFailure(message: "cannot read recording \(recording): \(error)")
                }
            }
            if reference == nil { reference = baseScenario?.profile }
            var loaded: Profile?
            if let reference {
                do throws(ScenarioErrors) {
                    let directory = base.map { ($0 as NSString).deletingLastPathComponent }
                    loaded = try ProfileLoader().load(reference, relativeTo: profile == nil ? directory : nil)
                } catch {
                    throw CommandFailure(message: error.errors.map(\.message).joined(separator: "\n"))
                }
            }
            // A profile file is written as an absolute path, so that the scenario works wherever it is saved.
            var written = reference
            if let reference, reference.contains("/") || reference.hasSuffix(".yaml") || reference.hasSuffix(".yml"), let loaded {
                written = URL(fileURLWithPath: loaded.source).standardizedFileURL.path
            }
            let generator = ScenarioGenerator(profile: loaded, profileReference: written, base: baseScenario, name: name)
            let scenario: GeneratedScenario
            do {
                scenario = try generator.generate(recording: recording)
            } catch {
                throw CommandFailure(message: "\(error)")
            }
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: Data(scenario.yaml.utf8)) else {
                    throw CommandFailure(message: "cannot write \(out)")
                }
            } else {
                FileHandle.standardOutput.write(Data(scenario.yaml.utf8))
            }
            FileHandle.standardError.write(Data("\(scenario.summary)\n".utf8))
        }
    }
}
