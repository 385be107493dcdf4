import ArgumentParser
import Foundation
import TapedeckProtocol

/// `tapedeck profiles`: lists or prints the built-in profiles.
struct ProfilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List the built-in protocol profiles, or print one to start your own."
    )

    @Argument(help: "A built-in profile to print.")
    var name: String?

    func run() async throws {
        guard let name else {
            for n in ProfileLoader.availableBuiltins {
                let p = try? ProfileLoader().load(n)
                let paths = p?.endpoints.map(\.path).joined(separator: ", ") ?? ""
                print("\(n.padding(toLength: 22, withPad: " ", startingAt: 0)) \(paths.padding(toLength: 36, withPad: " ", startingAt: 0)) \(p?.description ?? "")")
            }
            return
        }
        guard let path = ProfileLoader.builtinPath(name), let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("no built-in profile '\(name)'; built-in: \(ProfileLoader.availableBuiltins.joined(separator: ", "))")
        }
        print(text, terminator: "")
    }
}
