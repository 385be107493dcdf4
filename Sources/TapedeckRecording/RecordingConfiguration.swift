public import TapedeckCore

/// How hard the writer works to keep committed batches across failures.
public enum RecordingDurability: String, Sendable, CaseIterable {
    /// WAL with `synchronous=NORMAL`: a committed batch survives a crash of the process (kill -9),
    /// the most recent batches may be lost on power loss or an OS crash.
    case normal
    /// WAL with `synchronous=FULL`: every commit is fsynced; a committed batch survives power loss.
    case full
}

/// Decodes a complete message's payload into a `Value` (a profile's codec), or returns `nil`.
public typealias RecordingFrameDecoder = @Sendable (FrameOpcode, [UInt8]) -> Value?

/// A batch that has been committed to disk: the writer's acknowledgement.
public struct CommittedBatch: Sendable, Hashable {
    public var id: Int64
    /// First and last frame sequence numbers of the batch (`nil` for a batch without frames).
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var frameCount: Int
    /// How long the batch's oldest frame waited, from its timestamp (when it was handed to the
    /// writer, unless the caller stamped it) until the batch committed; `nil` when not measured.
    public var oldestFrameWait: Duration? = nil
}

/// Settings of a `RecordingWriter`.
public struct RecordingConfiguration: Sendable {
    /// A batch is committed once it holds this many frames...
    public var batchSize: Int
    /// ...or once its oldest frame has waited this long.
    public var flushInterval: Duration
    /// At most this many frames wait in memory; `append` suspends while the queue is full.
    public var queueCapacity: Int
    public var durability: RecordingDurability
    /// Replace an existing file at the path instead of failing.
    public var overwrite: Bool
    /// What is redacted before it reaches disk.
    public var redaction: Redactor
    /// Fills the `decoded` column of binary messages when it returns a value (a profile's codec).
    /// Text messages that hold JSON are always decoded as JSON (their text is the column).
    public var decoder: RecordingFrameDecoder?
    /// Called after each batch commits, in order, from the writer's task.
    public var onCommit: (@Sendable (CommittedBatch) -> Void)?

    public init(
        batchSize: Int = 4096, flushInterval: Duration = .milliseconds(50), queueCapacity: Int = 16384,
        durability: RecordingDurability = .normal, overwrite: Bool = false, redaction: Redactor = Redactor(),
        decoder: RecordingFrameDecoder? = nil,
        onCommit: (@Sendable (CommittedBatch) -> Void)? = nil
    ) {
        self.batchSize = max(1, batchSize)
        self.flushInterval = flushInterval
        self.queueCapacity = max(self.batchSize, queueCapacity)
        self.durability = durability
        self.overwrite = overwrite
        self.redaction = redaction
        self.decoder = decoder
        self.onCommit = onCommit
    }

    /// Decodes text messages that hold JSON; anything else is left undecoded.
    public static let jsonTextDecoder: RecordingFrameDecoder = { opcode, bytes in
        guard opcode == .text, let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        else { return nil }
        return try? Value(jsonBytes: bytes)
    }
}
