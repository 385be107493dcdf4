import Yams
import TapedeckCore

extension ScenarioLoader {
    static let testKeys = ["name", "connect", "steps", "skip", "skip_target"]
    static let stepKinds = [
        "connect", "send", "expect", "expect_count", "expect_none", "expect_close", "expect_status", "wait", "disconnect",
        "reconnect", "capture", "http",
    ]
    static let stepModifiers = ["as", "within", "during", "count", "capture", "body", "code", "status", "response"]
    static let connectKeys = ["path", "query", "headers", "cookie", "subprotocols"]
    static let httpKeys = ["method", "path", "query", "headers", "cookie", "body"]
    /// Root names that test templates can read, besides the values captured by earlier steps.
    public static let testNames: Set<String> = ["vars", "entities", "settings"]
    /// How long `expect` and `expect_close` wait when the step gives no `within`.
    public static let defaultWithin = 5.0
    /// How long `expect_none` and `expect_count` watch when the step gives no `during`.
    public static let defaultDuring = 1.0

    /// A function library that also knows `token(...)`, so test templates pass the check; the runner
    /// supplies the real `token`.
    static func withTokenPlaceholder(_ functions: FunctionLibrary) -> FunctionLibrary {
        functions["token"] != nil ? functions : functions.adding("token", .init { _, _ in .string("") })
    }

    func readTests(_ node: Node, reader r: NodeReader) -> [ScenarioTest] {
        guard case .sequence(let seq) = node else {
            r.error("expected 'tests' to be a list of tests (each with 'name' and 'steps'), found \(r.describe(node))", at: node)
            return []
        }
        let saved = r.functions
        r.functions = Self.withTokenPlaceholder(saved)
        defer { r.functions = saved }
        var tests: [ScenarioTest] = []
        var names: [String: SourceLocation] = [:]
        for (i, item) in seq.enumerated() {
            guard let test = readTest(item, index: i, reader: r) else { continue }
            if let first = names[test.name] {
                r.error("duplicate test name '\(test.name)' (first defined at line \(first.line))", at: test.location)
            }
            names[test.name] = test.location
            tests.append(test)
        }
        return tests
    }

    func readTest(_ node: Node, index: Int, reader r: NodeReader) -> ScenarioTest? {
        guard let pairs = r.mapping(node, what: "a test", allowed: Self.testKeys) else { return nil }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var name = "test-\(index + 1)"
        if let n = keys["name"] { name = r.string(n, what: "a test's 'name'") ?? name } else { r.error("missing key 'name' in a test", at: node) }
        var steps: [TestStep] = []
        var known = Self.testNames
        if let n = keys["connect"], let c = readConnect(n, names: known, reader: r) {
            steps.append(TestStep(kind: .connect(c), location: r.location(n)))
        }
        if let n = keys["steps"] {
            if case .sequence(let seq) = n {
                for item in seq {
                    if let step = readStep(item, names: &known, reader: r) { steps.append(step) }
                }
            } else {
                r.error("expected a test's 'steps' to be a list of steps, found \(r.describe(n))", at: n)
            }
        } else {
            r.error("missing key 'steps' in test '\(name)'", at: node)
        }
        var skip: String?
        if let n = keys["skip"], case .scalar(let sc) = n {
            switch NodeReader.plainValue(sc) {
            case .bool(let b): skip = b ? "skipped" : nil
            case .string(let reason): skip = reason
            default: r.error("expected 'skip' to be true, false or a reason, found \(r.describe(n))", at: n)
            }
        }
        var skipTarget: String?
        if let n = keys["skip_target"] {
            if case .scalar(let sc) = n, case .string(let reason) = NodeReader.plainValue(sc), !reason.isEmpty {
                skipTarget = reason
            } else {
                r.error("expected 'skip_target' to be the reason the test cannot run against a --target server, found \(r.describe(n))", at: n)
            }
        }
        return ScenarioTest(name: name, location: r.location(node), steps: steps, skip: skip, skipTarget: skipTarget)
    }

    func readConnect(_ node: Node, names: Set<String>, reader r: NodeReader, what: String = "'connect'", pathHint: String = "the WebSocket path, such as /ws") -> TestStep.Connect? {
        if case .scalar = node {
            return r.template(node, names: names).map { TestStep.Connect(path: $0) }
        }
        guard let pairs = r.mapping(node, what: what, allowed: what == "'connect'" ? Self.connectKeys : Self.httpKeys) else { return nil }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let pathNode = keys["path"] else {
            r.error("missing key 'path' in \(what) (\(pathHint))", at: node)
            return nil
        }
        guard let path = r.template(pathNode, names: names) else { return nil }
        var c = TestStep.Connect(path: path)
        if let n = keys["query"] {
            if case .mapping = n { c.query = r.template(n, names: names) } else { r.error("expected 'query' to be a mapping of parameters, found \(r.describe(n))", at: n) }
        }
        if let n = keys["headers"] {
            if case .mapping = n { c.headers = r.template(n, names: names) } else { r.error("expected 'headers' to be a mapping of header names to values, found \(r.describe(n))", at: n) }
        }
        if let n = keys["cookie"] { c.cookie = r.template(n, names: names) }
        if let n = keys["subprotocols"] { c.subprotocols = r.strings(n, what: "'subprotocols'") ?? [] }
        return c
    }

    func readHTTP(_ node: Node, names: Set<String>, reader r: NodeReader) -> TestStep.HTTPRequest? {
        guard let pairs = r.mapping(node, what: "'http'", allowed: Self.httpKeys) else { return nil }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var request = TestStep.HTTPRequest(target: TestStep.Connect(path: .constant(.string("/"))))
        if let n = keys["method"], let m = r.string(n, what: "'method'") {
            let method = m.uppercased()
            if ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(method) { request.method = method } else {
                r.error("expected 'method' to be GET, POST, PUT, PATCH, DELETE or HEAD, found '\(m)'", at: n)
            }
        }
        let target = pairs.filter { $0.key != "method" && $0.key != "body" }.map { ($0.keyNode, $0.value) }
        guard let connect = readConnect(
            Node.mapping(Node.Mapping(target, .implicit, .any, node.mark)), names: names, reader: r, what: "'http'", pathHint: "such as /api/v1/activity")
        else { return nil }
        request.target = connect
        if let n = keys["body"] { request.body = r.template(n, names: names) }
        return request
    }

    func readCaptures(_ node: Node, reader r: NodeReader) -> [(name: String, path: JSONPath)]? {
        guard let pairs = r.mapping(node, what: "'capture' (names to JSON paths such as $.id)") else { return nil }
        var out: [(name: String, path: JSONPath)] = []
        for (name, _, v) in pairs {
            guard let text = r.string(v, what: "the path of capture '\(name)'") else { continue }
            do {
                out.append((name, try JSONPath(parsing: text)))
            } catch {
                r.error("bad JSON path '\(text)' for capture '\(name)': \(error.message)", at: v)
            }
        }
        return out
    }

    func readStep(_ node: Node, names: inout Set<String>, reader r: NodeReader) -> TestStep? {
        let errorsBefore = r.errors.count
        guard let pairs = r.mapping(node, what: "a test step", allowed: Self.stepKinds + Self.stepModifiers) else { return nil }
        var kinds = pairs.filter { Self.stepKinds.contains($0.key) }
        // `capture` is a step of its own, or a modifier of `expect`.
        if kinds.count > 1 { kinds.removeAll { $0.key == "capture" } }
        guard let main = kinds.first else {
            if r.errors.count == errorsBefore { r.error("a test step needs one of: \(Self.stepKinds.joined(separator: ", "))", at: node) }
            return nil
        }
        if kinds.count > 1 {
            r.error("a test step does one thing; found both '\(main.key)' and '\(kinds[1].key)' (write two steps)", at: kinds[1].keyNode)
            return nil
        }
        let keys = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let allowedModifiers: [String: [String]] = [
            "connect": ["as"], "send": ["as"], "expect": ["as", "within", "capture"], "expect_count": ["as", "during", "count"],
            "expect_none": ["as", "during"], "expect_close": ["as", "within"], "expect_status": ["as", "body"], "wait": [],
            "disconnect": ["as", "code"], "reconnect": ["as"], "capture": ["as"], "http": ["status", "response", "capture"],
        ]
        for (key, keyNode, _) in pairs where Self.stepModifiers.contains(key) && !(allowedModifiers[main.key] ?? []).contains(key) {
            let allowed = allowedModifiers[main.key] ?? []
            r.error("'\(key)' does not apply to '\(main.key)'" + (allowed.isEmpty ? "" : "; it takes: \(allowed.joined(separator: ", "))"), at: keyNode)
        }
        let location = r.location(main.keyNode)
        let connection = keys["as"].flatMap { r.string($0, what: "'as' (a connection name)") } ?? "main"
        let value = main.value
        func seconds(_ key: String, _ fallback: Double) -> Double {
            keys[key].flatMap { r.duration($0, what: "'\(key)'") } ?? fallback
        }
        let kind: TestStep.Kind
        switch main.key {
        case "connect":
            guard let c = readConnect(value, names: names, reader: r) else { return nil }
            kind = .connect(c)
        case "send":
            guard let t = r.template(value, names: names) else { return nil }
            kind = .send(t)
        case "expect":
            guard let t = r.template(value, names: names) else { return nil }
            let captures = keys["capture"].flatMap { readCaptures($0, reader: r) } ?? []
            names.formUnion(captures.map(\.name))
            kind = .expect(pattern: t, within: seconds("within", Self.defaultWithin), capture: captures)
        case "expect_count":
            guard let t = r.template(value, names: names) else { return nil }
            guard let countNode = keys["count"] else {
                r.error("'expect_count' needs 'count': a number, or a comparison such as {gte: 2}", at: main.keyNode)
                return nil
            }
            kind = .expectCount(pattern: t, count: r.value(countNode), during: seconds("during", Self.defaultDuring))
        case "expect_none":
            guard let t = r.template(value, names: names) else { return nil }
            kind = .expectNone(pattern: t, during: seconds("during", Self.defaultDuring))
        case "expect_close":
            var code: Int?
            if case .scalar(let s) = value, NodeReader.plainValue(s) != .null {
                guard let c = r.integer(value, what: "the close code of 'expect_close'", minimum: 1000) else { return nil }
                code = c
            } else if case .mapping = value {
                r.error("expected 'expect_close' to be a close code such as 4001, or empty for any code", at: value)
                return nil
            }
            kind = .expectClose(code: code, within: seconds("within", Self.defaultWithin))
        case "expect_status":
            guard let status = r.integer(value, what: "the HTTP status of 'expect_status'", minimum: 100) else { return nil }
            kind = .expectStatus(status: status, body: keys["body"].flatMap { r.template($0, names: names) })
        case "wait":
            guard let d = r.duration(value, what: "'wait'") else { return nil }
            kind = .wait(d)
        case "disconnect":
            var code = 1000
            if let n = keys["code"] { code = r.integer(n, what: "'code'", minimum: 1000) ?? 1000 }
            kind = .disconnect(code: code)
        case "reconnect":
            kind = .reconnect
        case "http":
            guard let request = readHTTP(value, names: names, reader: r) else { return nil }
            let status = keys["status"].flatMap { r.integer($0, what: "'status' (an HTTP status)", minimum: 100) }
            let response = keys["response"].flatMap { r.template($0, names: names) }
            let captures = keys["capture"].flatMap { readCaptures($0, reader: r) } ?? []
            names.formUnion(captures.map(\.name))
            kind = .http(request, status: status, response: response, capture: captures)
        default:  // capture
            guard let captures = readCaptures(value, reader: r) else { return nil }
            names.formUnion(captures.map(\.name))
            kind = .capture(captures)
        }
        return TestStep(kind: kind, connection: connection, location: location)
    }
}
