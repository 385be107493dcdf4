import ArgumentParser

/// The `tapedeck` command: a record-and-replay simulator for WebSocket protocols.
@main
struct Tapedeck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tapedeck",
        abstract: "Record-and-replay simulator for WebSocket protocols.",
        discussion: """
            Serve scripted event streams over WebSocket with a protocol's own auth, envelope, \
            subscriptions, heartbeats, limits and errors; record live traffic into SQLite; replay them \
            (as a server or as a client), diff them, turn them into scenarios; run scenario test suites in CI.

            Start with `tapedeck serve` (a demo of every built-in profile) and `tapedeck serve --help`.
            """,
        version: TapedeckVersion.current,
        subcommands: [
            ServeCommand.self, RecordCommand.self, ReplayCommand.self, DiffCommand.self, ScenarioCommand.self,
            InspectCommand.self, ExportCommand.self, ImportCommand.self,
            TestCommand.self, ValidateCommand.self, TokenCommand.self, ProfilesCommand.self, ProtoCommand.self, BenchCommand.self,
            ConformanceCommand.self,
        ]
    )

    /// Sizes NIO's shared event loop group before anything uses it, then runs the command.
    static func main() async {
        EventLoopSizing.fitToAffinity()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

enum TapedeckVersion {
    static let current = "0.1.0"
}
