import Synchronization

extension LogQuery {
    /// Parsed queries by text: a filter evaluated for every event and connection reads the same
    /// few query texts again and again, so each is parsed once.
    private static let cache = Mutex<[String: LogQuery]>([:])
    /// Distinct texts kept; beyond it the cache starts over (texts come from clients).
    private static let cacheLimit = 1024

    /// The query for `text`, parsed once and then reused; throws like ``init(parsing:)``.
    public static func cached(_ text: String) throws(ExpressionError) -> LogQuery {
        if let q = cache.withLock({ $0[text] }) { return q }
        let q = try LogQuery(parsing: text)
        cache.withLock { c in
            if c.count >= cacheLimit { c.removeAll(keepingCapacity: true) }
            c[text] = q
        }
        return q
    }
}
