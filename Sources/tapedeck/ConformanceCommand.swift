import ArgumentParser
import Foundation
import TapedeckConformance
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording
import TapedeckScenario

/// `tapedeck conformance`: checks the client of a recording against its profile's client rules.
struct ConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check the clients in a recording against a profile's client rules (its 'client:' section).",
        discussion: """
            Each client (the identity the profile derives from its credentials, else its address) is \
            judged per rule: pass, fail (with the evidence) or not exercised. Exits 1 when a rule failed. \
            Recordings redact credentials, so clients are usually told apart by address.
            """
    )

    @Argument(help: "The recording file (SQLite).")
    var recording: String

    @Option(help: "The profile whose client rules apply: a built-in name or a profile file. Default: the recording's profile, when it names one.")
    var profile: String?

    @Option(help: "Write the report as JSON to this file.")
    var json: String?

    @Option(help: "Write the report as JUnit XML to this file.")
    var junit: String?

    @Option(help: "The --clock-rate the recording was served at: recorded times are multiplied by it.")
    var clockRate: Double = 1

    @Option(help: "HS256 secret for JWTs (to tell clients apart by their token when it was not redacted). Default: $TAPEDECK_JWT_SECRET, else the development secret.")
    var jwtSecret: String?

    func validate() throws {
        if !(clockRate > 0 && clockRate <= 1000) { throw ValidationError("--clock-rate must be more than 0 and at most 1000") }
    }

    func run() async throws {
        let reader: RecordingReader
        do {
            reader = try RecordingReader(path: recording)
        } catch {
            FileHandle.standardError.write(Data("tapedeck conformance: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let recorded = try reader.recording().metadata.profile
        guard let name = profile ?? recorded.flatMap({ $0.contains(",") || $0.isEmpty ? nil : $0 }) else {
            var message = "tapedeck conformance: name the profile whose client rules apply with --profile"
            if let recorded, !recorded.isEmpty { message += " (the recording was made with: \(recorded))" }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            throw ExitCode(2)
        }
        let loaded: Profile
        do { loaded = try ProfileLoader().load(name) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let rules = loaded.client else {
            FileHandle.standardError.write(Data("tapedeck conformance: profile '\(loaded.name)' states no client rules (no 'client:' section)\n".utf8))
            throw ExitCode(2)
        }
        let authenticator = try await Authenticator(secret: jwtSecret ?? ProcessInfo.processInfo.environment["TAPEDECK_JWT_SECRET"] ?? Authenticator.defaultSecret)
        let source = RecordingObservations(reader: reader, identifier: ClientIdentifier(profile: loaded, authenticator: authenticator), clockRate: clockRate)
        let (observations, connections, duration) = try await source.observations()
        // A recording holds WebSocket connections only: REST fetches cannot be judged from it.
        var checker = ConformanceChecker(profile: loaded.name, rules: rules, settings: loaded.settings, observesHTTP: false)
        for o in observations { checker.observe(o) }
        let report = ConformanceReport(source: recording, duration: duration, clients: checker.results(at: duration))
        if connections == 0 {
            let paths = loaded.endpoints.map(\.path).joined(separator: ", ")
            FileHandle.standardError.write(Data("tapedeck conformance: no connection in \(recording) is to \(loaded.name)'s endpoints (\(paths))\n".utf8))
        }
        try ConformanceOutput.write(report, json: json, junit: junit)
        print(report.summaryText, terminator: "")
        if !report.passed { throw ExitCode.failure }
    }
}
