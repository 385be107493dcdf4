public import TapedeckCore

/// A named client script in a scenario's `tests:` section, run by `tapedeck test`.
public struct ScenarioTest: Sendable {
    /// The test's name (`name:`).
    public var name: String
    /// Where the test starts in its file.
    public var location: SourceLocation
    /// The steps, in order (a test-level `connect:` comes first).
    public var steps: [TestStep]
    /// Why the test is skipped (`skip: true` or `skip: reason`); `nil` when it runs.
    public var skip: String?
    /// Why the test cannot run against a server started elsewhere (`skip_target: reason`), such as a
    /// step that needs the in-process simulator's secret or a server start option; `tapedeck test
    /// --target` reports it as skipped with this reason. `nil` when it runs against a target too.
    public var skipTarget: String?

    public init(name: String, location: SourceLocation, steps: [TestStep], skip: String? = nil, skipTarget: String? = nil) {
        self.name = name
        self.skip = skip
        self.skipTarget = skipTarget
        self.location = location
        self.steps = steps
    }
}

/// One step of a scenario test. Every step acts on one connection, `main` unless it says `as: NAME`.
public struct TestStep: Sendable {
    /// How to open a connection; every part is a template.
    public struct Connect: Sendable {
        public var path: Template
        /// A mapping of query parameters.
        public var query: Template?
        /// A mapping of request headers.
        public var headers: Template?
        /// The `Cookie` header's value.
        public var cookie: Template?
        public var subprotocols: [String]

        public init(path: Template, query: Template? = nil, headers: Template? = nil, cookie: Template? = nil, subprotocols: [String] = []) {
            self.path = path
            self.query = query
            self.headers = headers
            self.cookie = cookie
            self.subprotocols = subprotocols
        }
    }

    /// An HTTP request the `http` step makes (a REST call beside the socket).
    public struct HTTPRequest: Sendable {
        public var method: String
        /// Path, query, headers and cookie, as for a connection.
        public var target: Connect
        /// The JSON body, if any.
        public var body: Template?

        public init(method: String = "GET", target: Connect, body: Template? = nil) {
            self.method = method
            self.target = target
            self.body = body
        }
    }

    /// What the step does.
    public enum Kind: Sendable {
        /// Opens the connection (its upgrade may be refused: check that with `expectStatus`).
        case connect(Connect)
        /// Sends a message: a string as a text frame, any other value as JSON.
        case send(Template)
        /// Waits up to `within` seconds for a message matching the pattern, and consumes it.
        case expect(pattern: Template, within: Double, capture: [(name: String, path: JSONPath)])
        /// Counts the messages matching the pattern during `during` seconds; the count must match `count` (a pattern).
        case expectCount(pattern: Template, count: Value, during: Double)
        /// No message matching the pattern may arrive during `during` seconds.
        case expectNone(pattern: Template, during: Double)
        /// The server closes the connection within `within` seconds, with this code if one is given.
        case expectClose(code: Int?, within: Double)
        /// The upgrade was refused with this status; the body must match the pattern, if one is given.
        case expectStatus(status: Int, body: Template?)
        /// Lets time pass.
        case wait(Double)
        /// Closes the connection from the client side.
        case disconnect(code: Int)
        /// Closes the connection and opens it again as it was first opened.
        case reconnect
        /// Binds values from the message the last `expect` on this connection matched.
        case capture([(name: String, path: JSONPath)])
        /// Makes an HTTP request; checks its status (any 2xx when `nil`) and its JSON body against a pattern.
        case http(HTTPRequest, status: Int?, response: Template?, capture: [(name: String, path: JSONPath)])
    }

    public var kind: Kind
    /// The connection the step acts on.
    public var connection: String
    public var location: SourceLocation

    public init(kind: Kind, connection: String = "main", location: SourceLocation) {
        self.kind = kind
        self.connection = connection
        self.location = location
    }

    /// The step's keyword as written in the file (`expect_none`).
    public var keyword: String {
        switch kind {
        case .connect: "connect"
        case .send: "send"
        case .expect: "expect"
        case .expectCount: "expect_count"
        case .expectNone: "expect_none"
        case .expectClose: "expect_close"
        case .expectStatus: "expect_status"
        case .wait: "wait"
        case .disconnect: "disconnect"
        case .reconnect: "reconnect"
        case .capture: "capture"
        case .http: "http"
        }
    }
}
