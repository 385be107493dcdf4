import TapedeckCore

/// Why a protobuf frame could not be decoded, a value could not be encoded, or a
/// descriptor set could not be loaded.
///
/// The description names where the problem is: a byte offset for malformed binary
/// input, and a field path (`work_item_updated.work_item.status`, `changes[2]`,
/// `labels["k"]`) for both directions. For values being encoded, the path uses the
/// keys as they were written in the input.
///
///     payload.workItem.estimate: expected integer, found string "x"
///     truncated varint at byte 17
///     wire type mismatch for field 3 (work_item_updated.work_item.title): expected length-delimited, found varint
public struct ProtobufError: Error, CustomStringConvertible, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        // Malformed binary input.
        case truncatedVarint(offset: Int)
        case malformedVarint(offset: Int)
        case truncated(offset: Int, needed: UInt64, available: Int)
        case invalidWireType(Int, offset: Int)
        case invalidFieldNumber(UInt64, offset: Int)
        case groupsUnsupported(field: Int, offset: Int)
        case wireTypeMismatch(field: Int, expected: String, found: String)
        case invalidUTF8
        case tooDeep(limit: Int)
        // Values that do not fit the schema (both directions).
        case typeMismatch(expected: String, found: String)
        case unknownField
        case unknownEnumName(String, enumType: String)
        case outOfRange(String)
        case invalidValue(String)
        case duplicateField(String)
        case multipleOneofFields(oneof: String, other: String)
        // Schema problems.
        case unknownMessageType(String)
        case invalidDescriptor(String)
    }

    enum PathComponent: Sendable, Equatable {
        case field(String)
        case index(Int)
        case key(String)
    }

    let kind: Kind
    /// Innermost component last.
    var components: [PathComponent]

    init(_ kind: Kind, path: [PathComponent] = []) {
        self.kind = kind
        self.components = path
    }

    /// The path of the offending field, e.g. `payload.work_item.changes[1].field_name`;
    /// empty when the problem is at the top level or not tied to a field.
    public var path: String {
        var out = ""
        for component in components {
            switch component {
            case .field(let name):
                if !out.isEmpty { out += "." }
                out += name
            case .index(let i):
                out += "[\(i)]"
            case .key(let k):
                out += "["
                out += Self.quote(k)
                out += "]"
            }
        }
        return out
    }

    /// The byte offset into the frame where malformed binary input was found, if any.
    public var byteOffset: Int? {
        switch kind {
        case .truncatedVarint(let o), .malformedVarint(let o), .truncated(let o, _, _), .invalidWireType(_, let o),
            .invalidFieldNumber(_, let o), .groupsUnsupported(_, let o):
            o
        default: nil
        }
    }

    /// The message, with the path and byte offset where they apply.
    public var description: String {
        let path = self.path
        switch kind {
        case .truncatedVarint(let offset):
            return "truncated varint at byte \(offset)" + Self.inPath(path)
        case .malformedVarint(let offset):
            return "malformed varint (more than 10 bytes) at byte \(offset)" + Self.inPath(path)
        case .truncated(let offset, let needed, let available):
            return "truncated field at byte \(offset): length \(needed) but only \(available) bytes remain"
                + Self.inPath(path)
        case .invalidWireType(let type, let offset):
            return "invalid wire type \(type) at byte \(offset)" + Self.inPath(path)
        case .invalidFieldNumber(let number, let offset):
            return "invalid field number \(number) at byte \(offset)" + Self.inPath(path)
        case .groupsUnsupported(let field, let offset):
            return "groups are not supported (field \(field) at byte \(offset))" + Self.inPath(path)
        case .wireTypeMismatch(let field, let expected, let found):
            return "wire type mismatch for field \(field) (\(path)): expected \(expected), found \(found)"
        case .invalidUTF8:
            return Self.prefix(path) + "invalid UTF-8 in string field"
        case .tooDeep(let limit):
            return Self.prefix(path) + "message nesting deeper than \(limit) levels"
        case .typeMismatch(let expected, let found):
            return Self.prefix(path) + "expected \(expected), found \(found)"
        case .unknownField:
            return Self.prefix(path) + "unknown field"
        case .unknownEnumName(let name, let enumType):
            return Self.prefix(path) + "unknown value \(Self.quote(name)) for enum \(enumType)"
        case .outOfRange(let what):
            return Self.prefix(path) + "\(what) is out of range"
        case .invalidValue(let message):
            return Self.prefix(path) + message
        case .duplicateField(let name):
            return Self.prefix(path) + "field \(Self.quote(name)) given more than once"
        case .multipleOneofFields(let oneof, let other):
            return Self.prefix(path) + "only one field of oneof \(Self.quote(oneof)) may be set, but \(Self.quote(other)) is set too"
        case .unknownMessageType(let name):
            return "unknown message type \(Self.quote(name))"
        case .invalidDescriptor(let message):
            return "invalid descriptor set: \(message)"
        }
    }

    private static func prefix(_ path: String) -> String { path.isEmpty ? "" : path + ": " }
    private static func inPath(_ path: String) -> String { path.isEmpty ? "" : " (in \(path))" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars.prefix(64) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        if s.unicodeScalars.count > 64 { out += "…" }
        return out + "\""
    }

    /// The error with `component` prepended to its path (used while unwinding).
    func within(_ component: PathComponent) -> ProtobufError {
        var copy = self
        copy.components.insert(component, at: 0)
        return copy
    }
}

extension ProtobufError {
    static func truncatedVarint(at offset: Int) -> ProtobufError { .init(.truncatedVarint(offset: offset)) }
    static func malformedVarint(at offset: Int) -> ProtobufError { .init(.malformedVarint(offset: offset)) }
    static func truncated(at offset: Int, needed: UInt64, available: Int) -> ProtobufError {
        .init(.truncated(offset: offset, needed: needed, available: available))
    }
    static func invalidWireType(_ type: Int, at offset: Int) -> ProtobufError { .init(.invalidWireType(type, offset: offset)) }
    static func invalidFieldNumber(_ n: UInt64, at offset: Int) -> ProtobufError { .init(.invalidFieldNumber(n, offset: offset)) }
    static func groupsUnsupported(field: Int, at offset: Int) -> ProtobufError {
        .init(.groupsUnsupported(field: field, offset: offset))
    }
    static func typeMismatch(expected: String, found value: TapedeckCore.Value) -> ProtobufError {
        .init(.typeMismatch(expected: expected, found: describe(value)))
    }
    static func invalidValue(_ message: String) -> ProtobufError { .init(.invalidValue(message)) }
    static func outOfRange(_ what: String) -> ProtobufError { .init(.outOfRange(what)) }
    static func invalidDescriptor(_ message: String) -> ProtobufError { .init(.invalidDescriptor(message)) }

    /// A short description of a value for error messages: `string "x"`, `integer 5`, `list`.
    static func describe(_ value: TapedeckCore.Value) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "bool \(b)"
        case .int(let i): "integer \(i)"
        case .double(let d): "number \(d)"
        case .string(let s): "string \(quote(s))"
        case .array: "list"
        case .object: "object"
        }
    }
}
