import TapedeckCore

/// The expression parser and evaluator: any text parses to an expression or an `ExpressionError`,
/// and evaluating what parses gives a value or an error, never a crash.
nonisolated(unsafe) let variables: [String: Value] = [
    "msg": ["type": "ping", "n": 3, "list": [1, "two", ["x": true]]], "conn": ["user": "ana", "tenant": "acme"],
    "settings": ["limit": 10], "event": ["type": "log", "level": "ERROR"],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    if let expression = try? Expression(parsing: text) {
        _ = expression.freeNames
        _ = expression.calledFunctions
    }
    // As a template too ("... {{ expr }} ..."), evaluated against a few names.
    if let template = try? Template(string: text) {
        var ctx = EvaluationContext(variables: variables, now: 1_737_109_800)
        _ = try? template.evaluate(in: &ctx)
    }
    return 0
}
