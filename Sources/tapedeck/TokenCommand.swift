import ArgumentParser
import Foundation
import TapedeckCore
import TapedeckProtocol

/// `tapedeck token`: mints a development JWT the simulator accepts.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a development JWT (HS256) that `tapedeck serve` accepts.",
        discussion: """
            Examples:
              tapedeck token --user alice               (tenant acme, the demo's tenant)
              tapedeck token --tenant t1 --user u1
              tapedeck token --expires -1h              (already expired, for a test)
              tapedeck token --claim exp=1700000000     (a claim given wins over --expires)
              tapedeck token --user bob --squads platform,payments --permissions incidents,alerts
              tapedeck token --user carol --claim 'roles=["admin"]' --expires 15m
            """
    )

    @Option(name: [.long, .customLong("sub")], help: "The user (claims 'sub' and 'user_id').")
    var user = "dev-user"

    @Option(help: "The tenant (claim 'tenant_id'); '' for none. Default: acme, the tenant of the built-in demo.")
    var tenant = "acme"

    @Option(help: "Comma-separated squads the user may see (ops-control-center).")
    var squads: String?

    @Option(help: "Comma-separated topics the user may read, or '*' (ops-control-center).")
    var permissions: String?

    @Option(help: "Comma-separated environments the user may see (ops-control-center).")
    var environments: String?

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
    }

    func run() async throws {
        var claims: Value = ["sub": .string(user), "user_id": .string(user)]
        if !tenant.isEmpty { claims["tenant_id"] = .string(tenant) }
        func list(_ s: String) -> Value { .array(s.split(separator: ",").map { .string(String($0).trimmingCharacters(in: .whitespaces)) }) }
        if let squads { claims["squads"] = list(squads) }
        if let permissions { claims["permissions"] = list(permissions) }
        if let environments { claims["environments"] = list(environments) }
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
