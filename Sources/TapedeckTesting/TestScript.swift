import Foundation
import OrderedCollections
import Synchronization
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario

/// Runs the steps of one scenario test against a server at `host:port`.
struct TestScript {
    struct Endpoint: Sendable {
        var host: String
        var port: Int
    }

    private struct Connection {
        var spec: TestStep.Connect
        var socket: TestConnection?
        var lastMatched: Value?
    }

    let test: ScenarioTest
    let scenario: Scenario
    let endpoint: Endpoint
    let time: any TestTime
    let authenticator: Authenticator
    let decodeBinary: @Sendable ([UInt8]) -> Value
    let encodeBinary: (@Sendable (Value) -> [UInt8]?)?
    private let activity = Activity()
    private var connections: [String: Connection] = [:]
    private var captured: [String: Value] = [:]

    init(
        test: ScenarioTest, scenario: Scenario, endpoint: Endpoint, time: any TestTime, authenticator: Authenticator,
        decodeBinary: @escaping @Sendable ([UInt8]) -> Value, encodeBinary: (@Sendable (Value) -> [UInt8]?)?
    ) {
        self.test = test
        self.scenario = scenario
        self.endpoint = endpoint
        self.time = time
        self.authenticator = authenticator
        self.decodeBinary = decodeBinary
        self.encodeBinary = encodeBinary
    }

    /// Runs every step; the first failing step ends the test.
    mutating func run() async -> TestFailure? {
        defer { closeAll() }
        for step in test.steps {
            do {
                try await perform(step)
            } catch let failure as TestFailure {
                return failure
            } catch {
                return TestFailure(location: step.location, step: step.keyword, message: "\(error)")
            }
        }
        return nil
    }

    /// Ends every connection at once.
    func closeAll() {
        for c in connections.values { c.socket?.abort() }
    }

    private func fail(_ step: TestStep, _ message: String, _ details: [String] = []) -> TestFailure {
        TestFailure(location: step.location, step: step.keyword, message: message, details: details)
    }

    // MARK: Steps

    private mutating func perform(_ step: TestStep) async throws {
        switch step.kind {
        case .connect(let spec):
            connections[step.connection]?.socket?.abort()
            connections[step.connection] = Connection(spec: spec)
            try await open(step)
        case .reconnect:
            guard let c = connections[step.connection] else { throw fail(step, "no connection '\(step.connection)' to reconnect; connect it first") }
            c.socket?.close(code: 1000)
            await time.settle(activity: activity)
            c.socket?.abort()
            try await open(step)
        case .expectStatus(let status, let body):
            let socket = try socket(for: step, allowRefused: true)
            let upgrade = socket.upgrade
            guard upgrade.status == status else {
                throw fail(step, "the upgrade was answered \(upgrade.status), expected \(status)", upgrade.body.isEmpty ? [] : ["body: \(upgrade.body)"])
            }
            if let body {
                let pattern = try evaluate(body, step)
                let actual = (try? Value(json: upgrade.body)) ?? .string(upgrade.body)
                if !Pattern(pattern).matches(actual) {
                    throw fail(
                        step, "the \(status) answer's body does not match",
                        ["expected: \(PatternMismatch.show(pattern))", "arrived:  \(upgrade.body)"]
                            + PatternMismatch.find(pattern: pattern, in: actual).map { "  \($0)" })
                }
            }
        case .send(let template):
            let socket = try socket(for: step)
            let value = try await resolveTokens(try evaluate(template, step))
            if case .string(let text) = value {
                socket.send(text: text)
            } else if let encodeBinary {
                guard let bytes = encodeBinary(value) else { throw fail(step, "the profile's codec cannot encode \(PatternMismatch.show(value))") }
                socket.send(binary: bytes)
            } else {
                socket.send(text: value.jsonString)
            }
            await time.settleAfterSend(activity: activity)
        case .expect(let template, let within, let captures):
            let pattern = try evaluate(template, step)
            let socket = try socket(for: step)
            let deadline = time.now + .seconds(within)
            while true {
                if let index = socket.inbox.firstIndex(where: { Pattern(pattern).matches($0.value) }) {
                    let message = socket.inbox[index]
                    socket.consume(at: index)
                    connections[step.connection]?.lastMatched = message.value
                    try bind(captures, from: message.value, step)
                    return
                }
                if socket.isClosed || time.now >= deadline {
                    await time.settleBeforeVerdict(activity: activity)
                    if socket.inbox.contains(where: { Pattern(pattern).matches($0.value) }) { continue }
                    let why = socket.isClosed ? "the connection closed (code \(socket.closeCode ?? 1006)) before" : "no"
                    throw fail(
                        step, "\(why) message matching the pattern within \(DurationText.format(within))",
                        closest(pattern: pattern, in: socket.inbox))
                }
                await time.pass(until: deadline, activity: activity)
            }
        case .expectNone(let template, let during):
            let pattern = try evaluate(template, step)
            let socket = try socket(for: step)
            let deadline = time.now + .seconds(during)
            while true {
                if let message = socket.inbox.first(where: { Pattern(pattern).matches($0.value) }) {
                    throw fail(
                        step, "a message matching the pattern arrived (watching for \(DurationText.format(during)))",
                        ["pattern: \(PatternMismatch.show(pattern))", "arrived: \(PatternMismatch.show(message.value))"])
                }
                if time.now >= deadline {
                    await time.settleBeforeVerdict(activity: activity)
                    if socket.inbox.contains(where: { Pattern(pattern).matches($0.value) }) { continue }
                    return
                }
                await time.pass(until: deadline, activity: activity)
            }
        case .expectCount(let template, let count, let during):
            let pattern = try evaluate(template, step)
            let socket = try socket(for: step)
            let deadline = time.now + .seconds(during)
            while time.now < deadline { await time.pass(until: deadline, activity: activity) }
            await time.settleBeforeVerdict(activity: activity)
            let inbox = socket.inbox
            let matching = inbox.indices.filter { Pattern(pattern).matches(inbox[$0].value) }
            for index in matching.reversed() { socket.consume(at: index) }
            if !Pattern(count).matches(.int(matching.count)) {
                throw fail(
                    step, "\(matching.count) messages matched during \(DurationText.format(during)), expected \(PatternMismatch.show(count))",
                    ["pattern: \(PatternMismatch.show(pattern))"] + matching.prefix(5).map { "arrived: \(PatternMismatch.show(inbox[$0].value))" })
            }
        case .expectClose(let code, let within):
            let socket = try socket(for: step)
            let deadline = time.now + .seconds(within)
            while !socket.isClosed && socket.closeCode == nil {
                if time.now >= deadline {
                    await time.settleBeforeVerdict(activity: activity)
                    if socket.isClosed || socket.closeCode != nil { break }
                    throw fail(
                        step, "the connection is still open after \(DurationText.format(within))",
                        socket.inbox.suffix(3).map { "arrived: \(PatternMismatch.show($0.value))" })
                }
                await time.pass(until: deadline, activity: activity)
            }
            let actual = socket.closeCode ?? 1006
            if let code, actual != code {
                throw fail(step, "the connection closed with code \(actual), expected \(code)")
            }
        case .wait(let seconds):
            let deadline = time.now + .seconds(seconds)
            while time.now < deadline { await time.pass(until: deadline, activity: activity) }
        case .disconnect(let code):
            let socket = try socket(for: step, allowRefused: true)
            socket.close(code: code)
            await time.settle(activity: activity)
        case .http(let request, let status, let response, let captures):
            let (uri, headers) = try await requestTarget(request.target, step)
            var body: String?
            if let b = request.body { body = Self.text(try await resolveTokens(try evaluate(b, step))) }
            let answer: HTTPExchange.Answer
            do {
                answer = try await HTTPExchange.perform(
                    host: endpoint.host, port: endpoint.port, method: request.method, uri: uri, headers: headers, body: body)
            } catch {
                throw fail(step, "\(request.method) \(uri) failed: \(error)")
            }
            let value = (try? Value(json: answer.body)) ?? .string(answer.body)
            if let status, answer.status != status {
                throw fail(step, "\(request.method) \(uri) answered \(answer.status), expected \(status)", ["body: \(PatternMismatch.show(value))"])
            }
            if status == nil, !(200..<300).contains(answer.status) {
                throw fail(step, "\(request.method) \(uri) answered \(answer.status)", ["body: \(PatternMismatch.show(value))"])
            }
            if let response {
                let pattern = try evaluate(response, step)
                if !Pattern(pattern).matches(value) {
                    throw fail(
                        step, "the answer to \(request.method) \(uri) does not match",
                        ["expected: \(PatternMismatch.show(pattern))", "arrived:  \(PatternMismatch.show(value))"]
                            + PatternMismatch.find(pattern: pattern, in: value).prefix(6).map { "  \($0)" })
                }
            }
            try bind(captures, from: value, step)
        case .capture(let captures):
            guard let last = connections[step.connection]?.lastMatched else {
                throw fail(step, "nothing to capture from: no 'expect' on connection '\(step.connection)' has matched yet")
            }
            try bind(captures, from: last, step)
        }
    }

    private func socket(for step: TestStep, allowRefused: Bool = false) throws(TestFailure) -> TestConnection {
        guard let socket = connections[step.connection]?.socket else {
            throw fail(step, "no connection '\(step.connection)'; add a 'connect' step" + (step.connection == "main" ? "" : " with 'as: \(step.connection)'"))
        }
        let upgrade = socket.upgrade
        if !allowRefused && upgrade.status != 101 {
            throw fail(
                step, "the upgrade was refused with \(upgrade.status)" + (upgrade.body.isEmpty ? "" : ": \(upgrade.body)"),
                ["(check a refusal with 'expect_status: \(upgrade.status)')"])
        }
        return socket
    }

    /// The request URI (path and query) and headers of a connection or an HTTP request.
    private func requestTarget(_ spec: TestStep.Connect, _ step: TestStep) async throws -> (uri: String, headers: [(String, String)]) {
        var path = Self.text(try await resolveTokens(try evaluate(spec.path, step)))
        if !path.hasPrefix("/") { path = "/" + path }
        var headers: [(String, String)] = []
        if let q = spec.query, case .object(let params) = try await resolveTokens(try evaluate(q, step)) {
            let query = params.map { "\(Self.percentEncode($0.key))=\(Self.percentEncode(Self.text($0.value)))" }.joined(separator: "&")
            if !query.isEmpty { path += (path.contains("?") ? "&" : "?") + query }
        }
        if let h = spec.headers, case .object(let fields) = try await resolveTokens(try evaluate(h, step)) {
            for (k, v) in fields { headers.append((k, Self.text(v))) }
        }
        if let c = spec.cookie { headers.append(("Cookie", Self.text(try await resolveTokens(try evaluate(c, step))))) }
        return (path, headers)
    }

    private mutating func open(_ step: TestStep) async throws {
        guard let spec = connections[step.connection]?.spec else { return }
        var (path, headers) = try await requestTarget(spec, step)
        if !spec.subprotocols.isEmpty { headers.append(("Sec-WebSocket-Protocol", spec.subprotocols.joined(separator: ", "))) }
        do {
            let socket = try await TestConnection.open(
                host: endpoint.host, port: endpoint.port, uri: path, headers: headers,
                activity: activity, decodeBinary: decodeBinary)
            connections[step.connection]?.socket = socket
            connections[step.connection]?.lastMatched = nil
            if socket.upgrade.status == 101 { await time.settleAfterAction(activity: activity) }
        } catch {
            throw fail(step, "cannot connect to \(endpoint.host):\(endpoint.port)\(path): \(error)")
        }
    }

    // MARK: Values

    private mutating func bind(_ captures: [(name: String, path: JSONPath)], from value: Value, _ step: TestStep) throws(TestFailure) {
        for (name, path) in captures {
            guard let v = path.firstValue(in: value) else {
                throw fail(step, "capture '\(name)': nothing at \(path) in the message", ["message: \(PatternMismatch.show(value))"])
            }
            captured[name] = v
        }
    }

    private let tokens = TokenRequests()

    private func evaluate(_ template: Template, _ step: TestStep) throws(TestFailure) -> Value {
        var variables: [String: Value] = ["vars": scenario.vars, "entities": scenario.entities, "settings": scenario.settings]
        for (k, v) in captured { variables[k] = v }
        let requests = tokens
        let functions = FunctionLibrary.standard.adding("token", .init { _, args in .string(requests.add(args)) })
        var ctx = EvaluationContext(variables: variables, random: SeededRandom(seed: scenario.seed), now: time.wallTime, functions: functions)
        do {
            return try template.evaluate(in: &ctx)
        } catch {
            throw fail(step, "cannot evaluate a template: \(error.message)")
        }
    }

    /// Replaces the placeholders that `token(...)` left with tokens minted by the server's secret.
    private func resolveTokens(_ value: Value) async throws -> Value {
        let pending = tokens.take()
        guard !pending.isEmpty else { return value }
        var minted: [String: String] = [:]
        for (placeholder, args) in pending {
            var claims: Value = .emptyObject
            if case .object? = args.positional.first { claims = args.positional[0] }
            var lifetime: Double? = 3600
            for (k, v) in args.named.sorted(by: { $0.key < $1.key }) {
                if k == "expires" {
                    lifetime = v.doubleValue ?? v.stringValue.flatMap { $0 == "never" ? nil : DurationText.seconds($0) }
                } else {
                    claims[k] = v
                }
            }
            if claims["sub"] == nil { claims["sub"] = claims["user_id"] ?? .string("tapedeck-test") }
            if claims["user_id"] == nil { claims["user_id"] = claims["sub"] }
            minted[placeholder] = try await authenticator.mint(claims: claims, expiresIn: lifetime, now: time.wallTime)
        }
        return Self.replacing(minted, in: value)
    }

    private static func replacing(_ tokens: [String: String], in value: Value) -> Value {
        switch value {
        case .string(var s):
            for (k, v) in tokens where s.contains(k) { s = s.replacingOccurrences(of: k, with: v) }
            return .string(s)
        case .array(let items): return .array(items.map { replacing(tokens, in: $0) })
        case .object(var o):
            for k in o.keys { o[k] = replacing(tokens, in: o[k]!) }
            return .object(o)
        default: return value
        }
    }

    static func text(_ v: Value) -> String { v.stringValue ?? v.jsonString }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(UnicodeScalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) { out.append(c) } else { out += String(format: "%%%02X", b) }
        }
        return out
    }

    /// The messages closest to the pattern, with where each differs.
    private func closest(pattern: Value, in inbox: [ReceivedMessage]) -> [String] {
        var lines = ["expected: \(PatternMismatch.show(pattern))"]
        guard !inbox.isEmpty else { return lines + ["arrived:  nothing (no unmatched message on this connection)"] }
        let ranked = inbox.enumerated().map { (offset: $0.offset, message: $0.element, diff: PatternMismatch.find(pattern: pattern, in: $0.element.value)) }
            .sorted { ($0.diff.count, $0.offset) < ($1.diff.count, $1.offset) }
        lines.append("closest of \(inbox.count) unmatched message\(inbox.count == 1 ? "" : "s"):")
        for r in ranked.prefix(3) {
            lines.append("arrived:  \(PatternMismatch.show(r.message.value))")
            lines += r.diff.prefix(4).map { "  \($0)" }
        }
        return lines
    }
}

/// The `token(...)` calls of the current evaluation, minted afterwards (minting is asynchronous).
final class TokenRequests: Sendable {
    private let pending = Mutex<(next: Int, items: [(String, FunctionArguments)])>((0, []))

    func add(_ args: FunctionArguments) -> String {
        pending.withLock { p in
            p.next += 1
            let placeholder = "\u{1}tapedeck-token-\(p.next)\u{1}"
            p.items.append((placeholder, args))
            return placeholder
        }
    }

    func take() -> [(String, FunctionArguments)] {
        pending.withLock { p in
            defer { p.items = [] }
            return p.items
        }
    }
}
