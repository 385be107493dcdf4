/// One decoded or to-be-encoded non-message field value, in its wire-level form.
enum Scalar: Sendable {
    case signed(Int64)
    case unsigned(UInt64)
    case double(Double)
    case float(Float)
    case bool(Bool)
    case string(String)
    case bytes(ArraySlice<UInt8>)
    case enumNumber(Int32)

    /// The proto3 default value: zero, false, empty (negative zero is not a default).
    var isDefault: Bool {
        switch self {
        case .signed(let v): v == 0
        case .unsigned(let v): v == 0
        case .double(let v): v.bitPattern == 0
        case .float(let v): v.bitPattern == 0
        case .bool(let v): !v
        case .string(let v): v.isEmpty
        case .bytes(let v): v.isEmpty
        case .enumNumber(let v): v == 0
        }
    }

    /// The default value of a field type.
    static func defaultValue(of type: FieldType) -> Scalar {
        switch type {
        case .int32, .int64, .sint32, .sint64, .sfixed32, .sfixed64: .signed(0)
        case .uint32, .uint64, .fixed32, .fixed64: .unsigned(0)
        case .double: .double(0)
        case .float: .float(0)
        case .bool: .bool(false)
        case .string: .string("")
        case .bytes, .message, .group: .bytes([])
        case .enum: .enumNumber(0)
        }
    }

    /// Reads one value of `type` (not a message) from the reader.
    static func read(_ type: FieldType, from reader: inout WireReader) throws(ProtobufError) -> Scalar {
        switch type {
        case .int32: return .signed(Int64(Int32(truncatingIfNeeded: try reader.readVarint())))
        case .int64: return .signed(Int64(bitPattern: try reader.readVarint()))
        case .uint32: return .unsigned(UInt64(UInt32(truncatingIfNeeded: try reader.readVarint())))
        case .uint64: return .unsigned(try reader.readVarint())
        case .sint32:
            let n = UInt32(truncatingIfNeeded: try reader.readVarint())
            return .signed(Int64(Int32(bitPattern: (n >> 1) ^ (0 &- (n & 1)))))
        case .sint64:
            let n = try reader.readVarint()
            return .signed(Int64(bitPattern: (n >> 1) ^ (0 &- (n & 1))))
        case .bool: return .bool(try reader.readVarint() != 0)
        case .enum: return .enumNumber(Int32(truncatingIfNeeded: try reader.readVarint()))
        case .fixed32: return .unsigned(UInt64(try reader.readFixed32()))
        case .sfixed32: return .signed(Int64(Int32(bitPattern: try reader.readFixed32())))
        case .float: return .float(Float(bitPattern: try reader.readFixed32()))
        case .fixed64: return .unsigned(try reader.readFixed64())
        case .sfixed64: return .signed(Int64(bitPattern: try reader.readFixed64()))
        case .double: return .double(Double(bitPattern: try reader.readFixed64()))
        case .string:
            let slice = try reader.readLengthDelimited()
            guard let s = String(validating: slice, as: UTF8.self) else { throw ProtobufError(.invalidUTF8) }
            return .string(s)
        case .bytes, .message, .group:
            return .bytes(try reader.readLengthDelimited())
        }
    }

    /// Writes this value as `type` without a tag.
    func write(as type: FieldType, to writer: inout WireWriter) {
        switch (self, type) {
        case (.signed(let v), .sint32):
            let n = Int32(truncatingIfNeeded: v)
            writer.writeVarint(UInt64(UInt32(bitPattern: (n << 1) ^ (n >> 31))))
        case (.signed(let v), .sint64):
            writer.writeVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
        case (.signed(let v), .sfixed32): writer.writeFixed32(UInt32(bitPattern: Int32(truncatingIfNeeded: v)))
        case (.signed(let v), .sfixed64): writer.writeFixed64(UInt64(bitPattern: v))
        case (.signed(let v), _): writer.writeVarint(UInt64(bitPattern: v))  // int32 negatives sign-extend to 10 bytes
        case (.unsigned(let v), .fixed32): writer.writeFixed32(UInt32(truncatingIfNeeded: v))
        case (.unsigned(let v), .fixed64): writer.writeFixed64(v)
        case (.unsigned(let v), _): writer.writeVarint(v)
        case (.double(let v), _): writer.writeFixed64(v.bitPattern)
        case (.float(let v), _): writer.writeFixed32(v.bitPattern)
        case (.bool(let v), _): writer.writeVarint(v ? 1 : 0)
        case (.enumNumber(let v), _): writer.writeVarint(UInt64(bitPattern: Int64(v)))
        case (.string(let v), _): writer.writeLengthDelimited(Array(v.utf8))
        case (.bytes(let v), _): writer.writeLengthDelimited(Array(v))
        }
    }
}
