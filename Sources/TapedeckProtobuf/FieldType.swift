/// The declared type of a field, as in `FieldDescriptorProto.Type`.
enum FieldType: Int, Sendable {
    case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message, bytes, uint32, `enum`,
        sfixed32, sfixed64, sint32, sint64

    /// The wire type a single (unpacked) value of this type uses.
    var wireType: WireType {
        switch self {
        case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .bool, .enum: .varint
        case .fixed64, .sfixed64, .double: .fixed64
        case .fixed32, .sfixed32, .float: .fixed32
        case .string, .bytes, .message: .lengthDelimited
        case .group: .startGroup
        }
    }

    /// Whether repeated fields of this type can use the packed encoding.
    var isPackable: Bool {
        switch wireType {
        case .varint, .fixed64, .fixed32: true
        default: false
        }
    }
}

/// The low three bits of a tag.
enum WireType: Int, Sendable {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5

    var name: String {
        switch self {
        case .varint: "varint"
        case .fixed64: "64-bit"
        case .lengthDelimited: "length-delimited"
        case .startGroup: "start-group"
        case .endGroup: "end-group"
        case .fixed32: "32-bit"
        }
    }
}
