import ArgumentParser
import Foundation
import TapedeckCore
import TapedeckProtocol
import OrderedCollections

/// `tapedeck token`: mints a development JWT the simulator accepts.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a development JWT (HS256) that `tapedeck serve` accepts.",
        discussion: """
            Profiles declare the claims their tokens carry and the options that set them (a \
            profile's `token:` section); without --profile, those of every built-in profile apply. \
            --list-options shows them.

            Examples:
              tapedeck token --user alice               (tenant acme, the demo's tenant)
              tapedeck token --tenant t1 --user u1
              tapedeck token --expires -1h              (already expired, for a test)
              tapedeck token --claim exp=1700000000     (a claim given wins over --expires)
              tapedeck token --user bob --squads platform,payments --permissions alerts
              tapedeck token --user carol --claim 'roles=["admin"]' --expires 15m
              tapedeck token --profile my-protocol.yaml --list-options
            """
    )

    @Option(name: [.long, .customLong("sub")], help: "The user (claim 'sub'; profiles may put it in more claims).")
    var user = "dev-user"

    @Option(help: "The profile (a built-in name or a file) whose token claims and options apply. Default: every built-in profile's.")
    var profile: String?

    @Flag(help: "List the options the profile(s) declare, and exit.")
    var listOptions = false

    /// `--NAME VALUE` options the profiles declare (`token.options`).
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var profileOptions: [String] = []

    @Option(name: .long, help: "An extra claim NAME=VALUE; VALUE is JSON if it parses, else a string. Repeatable.")
    var claim: [String] = []

    @Option(parsing: .unconditional, help: "Lifetime, e.g. 30m, 24h; negative (-1h) for a token that has already expired; 'never' for no expiry.")
    var expires = "24h"

    @Option(help: "HS256 secret, at least 32 bytes. Default: $TAPEDECK_JWT_SECRET, else the development secret.")
    var secret: String?

    @Flag(help: "Print the claims as JSON on standard error too.")
    var verbose = false

    func validate() throws {
        if expires != "never", DurationText.seconds(expires) == nil {
            throw ValidationError("--expires must be a duration such as 30m or 24h, or 'never'")
        }
        for c in claim where !c.contains("=") { throw ValidationError("--claim takes NAME=VALUE, got '\(c)'") }
        do {
            _ = try tokenSpec().claims(user: user, given: try givenOptions())
        } catch let error as TokenOptionError {
            throw ValidationError(error.description)
        }
    }

    /// The profile options given, as (name, value): `--name value` or `--name=value`.
    func givenOptions() throws -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        var i = 0
        while i < profileOptions.count {
            let item = profileOptions[i]
            guard item.hasPrefix("--"), item.count > 2 else { throw ValidationError("unexpected argument '\(item)'") }
            let body = item.dropFirst(2)
            if let eq = body.firstIndex(of: "=") {
                out.append((String(body[..<eq]), String(body[body.index(after: eq)...])))
                i += 1
            } else {
                guard i + 1 < profileOptions.count else { throw ValidationError("missing value for '\(item)'") }
                out.append((String(body), profileOptions[i + 1]))
                i += 2
            }
        }
        return out
    }

    /// The token spec: the profile's, or every built-in profile's merged.
    func tokenSpec() throws -> TokenSpec {
        let loader = ProfileLoader()
        do {
            if let profile { return try loader.load(profile).token }
            return TokenSpec.merged(try ProfileLoader.availableBuiltins.map { try loader.load($0).token })
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let spec = try tokenSpec()
        if listOptions {
            if spec.options.isEmpty { print("no token options") }
            for (name, o) in spec.options {
                var line = "--\(name) \(o.list ? "LIST" : "VALUE")".padding(toLength: 24, withPad: " ", startingAt: 0)
                line += "claim '\(o.claim)'" + (o.help.map { ": \($0)" } ?? "")
                if let d = o.defaultValue { line += " (default: \(d.isEmpty ? "''" : d))" }
                print(line)
            }
            return
        }
        var claims: Value = ["sub": .string(user)]
        for (k, v) in try spec.claims(user: user, given: try givenOptions()) { claims[k] = v }
        for c in claim {
            let parts = c.split(separator: "=", maxSplits: 1)
            let name = String(parts[0]), raw = parts.count > 1 ? String(parts[1]) : ""
            claims[name] = (try? Value(json: raw)) ?? .string(raw)
        }
        let authenticator: Authenticator
        do {
            authenticator = try await Authenticator(secret: secret ?? ProcessInfo.processInfo.environment["TAPEDECK_JWT_SECRET"] ?? Authenticator.defaultSecret)
        } catch {
            throw ValidationError(error.description)
        }
        // `iat` and `exp` are added unless given with --claim: a claim given is a claim minted.
        let now = RealClock().wallTime
        if claims["iat"] == nil { claims["iat"] = .int(Int(now)) }
        if claims["exp"] == nil, expires != "never", let lifetime = DurationText.seconds(expires) {
            claims["exp"] = .int(Int(now + lifetime))
        }
        let token = try await authenticator.mint(claims: claims, expiresIn: nil, now: now)
        if verbose { FileHandle.standardError.write(Data((claims.prettyJSONString + "\n").utf8)) }
        print(token)
    }
}
