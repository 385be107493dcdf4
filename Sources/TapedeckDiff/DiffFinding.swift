public import TapedeckCore
public import TapedeckRecording

/// One difference between two recorded sessions: a connection, its upgrade or close, a message, a field
/// of a message, or a gap in time.
public struct DiffFinding: Sendable, Hashable, CustomStringConvertible {
    /// What differs.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case connectionRemoved = "connection_removed"
        case connectionAdded = "connection_added"
        case upgradeStatus = "upgrade_status"
        case subprotocol
        case closeCode = "close_code"
        case closeReason = "close_reason"
        case messageRemoved = "message_removed"
        case messageAdded = "message_added"
        /// The same message (under the rules) on both sides, but in another place in the order.
        case messageMoved = "message_moved"
        case opcodeChanged = "opcode_changed"
        case valueChanged = "value_changed"
        case fieldAdded = "field_added"
        case fieldRemoved = "field_removed"
        case typeChanged = "type_changed"
        case timing

        /// Short words for reports: "changed", "added field", ...
        public var label: String {
            switch self {
            case .connectionRemoved: "connection removed"
            case .connectionAdded: "connection added"
            case .upgradeStatus: "upgrade status"
            case .subprotocol: "subprotocol"
            case .closeCode: "close code"
            case .closeReason: "close reason"
            case .messageRemoved: "message removed"
            case .messageAdded: "message added"
            case .messageMoved: "message moved"
            case .opcodeChanged: "opcode changed"
            case .valueChanged: "changed"
            case .fieldAdded: "field added"
            case .fieldRemoved: "field removed"
            case .typeChanged: "type changed"
            case .timing: "timing"
            }
        }
    }

    public var kind: Kind
    /// Who sent the message (message findings only).
    public var direction: FrameDirection?
    /// The message's number in the expected connection, from 1 (all directions counted).
    public var expectedIndex: Int?
    /// The message's number in the actual connection, from 1.
    public var actualIndex: Int?
    /// The message's alignment key (e.g. `incident/created`).
    public var messageKey: String?
    /// Where in the message (field findings), e.g. `$.data.status`.
    public var path: ValuePath?
    public var expected: Value?
    public var actual: Value?
    /// Anything else worth saying (timing: the two gaps).
    public var detail: String?

    public init(
        kind: Kind, direction: FrameDirection? = nil, expectedIndex: Int? = nil, actualIndex: Int? = nil,
        messageKey: String? = nil, path: ValuePath? = nil, expected: Value? = nil, actual: Value? = nil, detail: String? = nil
    ) {
        self.kind = kind
        self.direction = direction
        self.expectedIndex = expectedIndex
        self.actualIndex = actualIndex
        self.messageKey = messageKey
        self.path = path
        self.expected = expected
        self.actual = actual
        self.detail = detail
    }

    /// A finding for a field difference inside a message.
    init(_ d: ValueDifference, direction: FrameDirection, expectedIndex: Int, actualIndex: Int, key: String?) {
        let kind: Kind = switch d.kind {
        case .changed: .valueChanged
        case .added: .fieldAdded
        case .removed: .fieldRemoved
        case .typeChanged: .typeChanged
        }
        self.init(
            kind: kind, direction: direction, expectedIndex: expectedIndex, actualIndex: actualIndex, messageKey: key,
            path: d.path, expected: d.expected, actual: d.actual)
    }

    /// Where the finding is: `message 4 (s2c incident/created)` or `connection`.
    public var location: String {
        var parts: [String] = []
        switch (expectedIndex, actualIndex) {
        case let (e?, a?): parts.append(e == a ? "message \(e)" : "message \(e)↔\(a)")
        case let (e?, nil): parts.append("message \(e)")
        case let (nil, a?): parts.append("actual message \(a)")
        default: parts.append("connection")
        }
        var tags: [String] = []
        if let direction { tags.append(direction.rawValue) }
        if let messageKey { tags.append(messageKey) }
        if !tags.isEmpty { parts.append("(\(tags.joined(separator: " ")))") }
        return parts.joined(separator: " ")
    }

    /// One line: `message 4 (s2c incident/created) $.data.status: changed "open" -> "closed"`.
    public var description: String {
        let e = expected.map { ValueDifference.short($0) } ?? "(none)"
        let a = actual.map { ValueDifference.short($0) } ?? "(none)"
        var out = location
        if let path { out += " \(path)" }
        out += ": \(kind.label)"
        switch kind {
        case .messageAdded, .fieldAdded, .connectionAdded: out += actual.map { " \(ValueDifference.short($0))" } ?? ""
        case .messageRemoved, .fieldRemoved, .connectionRemoved: out += expected.map { " \(ValueDifference.short($0))" } ?? ""
        default: if expected != nil || actual != nil { out += " \(e) -> \(a)" }
        }
        if let detail { out += " (\(detail))" }
        return out
    }
}
