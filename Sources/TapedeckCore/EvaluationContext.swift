/// Everything an expression can see and use while it is evaluated.
///
/// A context is a value: a scenario stream owns one and passes it `inout`, so that the random
/// generator advances deterministically from event to event.
public struct EvaluationContext: Sendable {
    /// Root names visible to expressions: `vars`, `event`, `conn`, `msg`, `claims`, `entities`, ...
    public var variables: [String: Value]
    /// The source of every random value.
    public var random: SeededRandom
    /// What `seq()` returns: the 1-based number of the event within its stream.
    public var sequence: Int
    /// Seconds since the scenario started, for `wave` and `ramp`.
    public var scenarioTime: Double
    /// Unix time in seconds that `now()` reports.
    public var now: Double
    /// Environment variables visible to `env()`.
    public var environment: [String: String]
    /// The functions expressions may call.
    public var functions: FunctionLibrary

    public init(
        variables: [String: Value] = [:],
        random: SeededRandom = SeededRandom(seed: 0),
        sequence: Int = 1,
        scenarioTime: Double = 0,
        now: Double = 0,
        environment: [String: String] = [:],
        functions: FunctionLibrary = .standard
    ) {
        self.variables = variables
        self.random = random
        self.sequence = sequence
        self.scenarioTime = scenarioTime
        self.now = now
        self.environment = environment
        self.functions = functions
    }

    /// Evaluates an expression in this context.
    public mutating func evaluate(_ expression: Expression) throws(ExpressionError) -> Value {
        try Evaluator.evaluate(expression, in: &self)
    }
}
