/// The `bandwidth` fault: writes to a connection paced to a number of bytes per second of the
/// simulation clock. A frame goes when the previous ones have had their time (bytes ÷ rate), so
/// the rate holds from the first frame, with no burst; frames wait in the connection's queue.
struct BandwidthPacer {
    let bytesPerSecond: Double
    /// When the cap ends.
    let until: Duration
    /// When the next frame may go.
    private(set) var readyAt: Duration

    init(bytesPerSecond: Int, until: Duration, now: Duration) {
        self.bytesPerSecond = Double(bytesPerSecond)
        self.until = until
        self.readyAt = now
    }

    /// Whether a frame may go at `now`.
    func allows(now: Duration) -> Bool { now >= readyAt }

    /// Counts `bytes` written at `now`: the next frame waits their time.
    mutating func wrote(_ bytes: Int, now: Duration) {
        let start = Swift.max(readyAt, now)
        readyAt = start + .nanoseconds(Int64((Double(bytes) / bytesPerSecond * 1e9).rounded(.up)))
    }
}
