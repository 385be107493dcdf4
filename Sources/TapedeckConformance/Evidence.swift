/// What a verdict rests on: when, on which connection, what was seen, and the frame when there was one.
public struct Evidence: Sendable, Hashable {
    /// Simulation seconds.
    public var time: Double
    public var connection: Int?
    public var message: String
    /// The frame concerned, as JSON (cut at 300 characters).
    public var frame: String?

    public init(time: Double, connection: Int? = nil, message: String, frame: String? = nil) {
        self.time = time
        self.connection = connection
        self.message = message
        self.frame = frame.map { $0.count > 300 ? String($0.prefix(300)) + "…" : $0 }
    }
}
