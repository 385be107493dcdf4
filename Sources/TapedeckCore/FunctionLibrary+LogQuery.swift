extension FunctionLibrary {
    /// The log search query language (`LogQuery`: `level:ERROR AND NOT service:auth`), as
    /// template functions in the `logquery.` namespace:
    ///
    /// | function | result |
    /// |---|---|
    /// | `logquery.match(query, log)` | whether a log (an object) matches; `null` or `''` matches all; throws on a bad query |
    /// | `logquery.error(query)` | `null` when the query is valid, else what is wrong with it |
    /// | `logquery.select(list, query)` | the items of `list` that match |
    static let logQueryFunctions: [String: Function] = [
        "logquery.match": Function(deterministic: true) { _, a in
            let q = a.value(0)?.stringValue ?? ""
            return .bool(try LogQuery.cached(q).matches(try a.require(1)))
        },
        "logquery.error": Function(deterministic: true) { _, a in
            let q = a.value(0)
            if q == nil || q!.isNull { return .null }
            guard let text = q!.stringValue else { return .string("a query is a string, not \(q!.kindName)") }
            do throws(ExpressionError) {
                _ = try LogQuery(parsing: text)
                return .null
            } catch {
                return .string(error.message)
            }
        },
        "logquery.select": Function(deterministic: true) { _, a in
            let query = try LogQuery.cached(a.value(1)?.stringValue ?? "")
            return .array(try a.list(0).filter { query.matches($0) })
        },
    ]
}
