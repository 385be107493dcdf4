extension Value: CustomStringConvertible {
    /// Compact JSON.
    public var description: String { jsonString }
}
