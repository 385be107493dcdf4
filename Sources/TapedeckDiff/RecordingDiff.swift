public import TapedeckCore
public import TapedeckRecording

/// The result of comparing two recordings: per connection pair, the differences found under the rules,
/// the timing drift, and an aligned sample of messages for side-by-side reports.
public struct RecordingDiff: Sendable {
    /// The baseline recording (left, "expected").
    public var expected: RecordingSide
    /// The recording compared with it (right, "actual").
    public var actual: RecordingSide
    /// The rules that applied.
    public var rules: DiffRules
    /// How connections were paired.
    public var match: ConnectionMatch
    /// A gap that drifts by more than this counts as a difference; `nil`: timing is reported only.
    public var timingToleranceNanos: Int64?
    /// Things a reader should know (a profile that could not be loaded, a fallback in alignment).
    public var notes: [String]
    /// One entry per connection pair (or unpaired connection), in the expected recording's order.
    public var connections: [ConnectionDiff]

    /// Every difference, including findings left out of the lists to bound memory.
    public var differenceCount: Int { connections.reduce(0) { $0 + $1.differenceCount } }
    /// Whether the recordings are equal under the rules.
    public var isEqual: Bool { differenceCount == 0 }
}

/// One recording, as summarised in a report.
public struct RecordingSide: Sendable, Hashable {
    public var path: String
    public var name: String
    public var profile: String?
    public var connections: Int
    /// Messages compared (fragments joined; close frames not counted).
    public var messages: Int
}

/// The comparison of one pair of connections (or one connection the other recording lacks).
public struct ConnectionDiff: Sendable {
    /// `/api/ws #1` (the same id on both sides) or `/api/ws #1↔#2`.
    public var label: String
    public var path: String
    public var expectedID: ConnectionID?
    public var actualID: ConnectionID?
    /// Differences, connection-level first, then by message (at most the configured number).
    public var findings: [DiffFinding]
    /// Differences counted but not listed.
    public var omittedFindings: Int
    public var expectedMessages: Int
    public var actualMessages: Int
    /// Message pairs aligned with each other (same direction and key).
    public var matchedMessages: Int
    public var timing: TimingSummary
    /// Aligned messages for the side-by-side view, in time order (a bounded sample that keeps the
    /// first rows and every row with a difference, up to a limit).
    public var rows: [AlignedRow]
    /// Rows left out of `rows`.
    public var omittedRows: Int
    /// How long each side's connection lasted, in nanoseconds (for a timeline).
    public var expectedDurationNanos: Int64
    public var actualDurationNanos: Int64

    public var differenceCount: Int { findings.count + omittedFindings }
    public var isEqual: Bool { differenceCount == 0 }
}

/// One row of the side-by-side view: a message of either side, or a pair aligned together.
public struct AlignedRow: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case same, changed, added, removed
    }

    public var status: Status
    public var direction: FrameDirection
    public var key: String?
    public var expected: MessagePreview?
    public var actual: MessagePreview?
    /// The field differences of a changed pair.
    public var differences: [ValueDifference]
    /// Whether the gap before this pair drifted beyond the timing tolerance.
    public var late: Bool = false
}

/// A message as shown in a report: its number, time and a cut-down rendering.
public struct MessagePreview: Sendable, Hashable {
    /// The message's number in its connection, from 1.
    public var index: Int
    /// Nanoseconds since its connection opened.
    public var offsetNanos: Int64
    public var opcode: FrameOpcode
    /// Compact JSON (or text, or a binary summary), cut to a few hundred characters.
    public var text: String
}

/// The process exit status `tapedeck diff` uses.
public enum DiffExitStatus: Int32, Sendable {
    /// Equal under the rules.
    case equal = 0
    /// At least one difference.
    case different = 1
    /// The diff could not run: an unreadable file, a bad rule, a bad option.
    case error = 2

    public init(_ diff: RecordingDiff) { self = diff.isEqual ? .equal : .different }
}
