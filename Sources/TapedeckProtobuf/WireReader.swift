/// Reads the protobuf wire format from a byte slice. Offsets in errors are indices of the
/// original buffer (slices keep their parent's indices).
struct WireReader {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    var isAtEnd: Bool { position >= bytes.endIndex }

    mutating func readVarint() throws(ProtobufError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex else { throw .truncatedVarint(at: start) }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw .malformedVarint(at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformedVarint(at: start) }
        }
    }

    mutating func readFixed32() throws(ProtobufError) -> UInt32 {
        guard bytes.endIndex - position >= 4 else {
            throw .truncated(at: position, needed: 4, available: bytes.endIndex - position)
        }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func readFixed64() throws(ProtobufError) -> UInt64 {
        guard bytes.endIndex - position >= 8 else {
            throw .truncated(at: position, needed: 8, available: bytes.endIndex - position)
        }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// Reads a length prefix and returns the slice it covers.
    mutating func readLengthDelimited() throws(ProtobufError) -> ArraySlice<UInt8> {
        let start = position
        let length = try readVarint()
        let available = bytes.endIndex - position
        guard length <= UInt64(available) else { throw .truncated(at: start, needed: length, available: available) }
        let end = position + Int(length)
        defer { position = end }
        return bytes[position..<end]
    }

    /// Reads a tag. Returns the field number and wire type, validated.
    mutating func readTag() throws(ProtobufError) -> (number: Int, wireType: WireType) {
        let start = position
        let tag = try readVarint()
        let number = tag >> 3
        guard number >= 1, number <= 536_870_911 else { throw .invalidFieldNumber(number, at: start) }
        let raw = Int(tag & 7)
        guard let wireType = WireType(rawValue: raw) else { throw .invalidWireType(raw, at: start) }
        if wireType == .startGroup || wireType == .endGroup {
            throw .groupsUnsupported(field: Int(number), at: start)
        }
        return (Int(number), wireType)
    }

    /// Skips a value of the given wire type (for unknown fields).
    mutating func skip(_ wireType: WireType) throws(ProtobufError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup: throw .groupsUnsupported(field: 0, at: position)
        }
    }
}
