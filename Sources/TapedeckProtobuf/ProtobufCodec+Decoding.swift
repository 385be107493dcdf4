import OrderedCollections
import TapedeckCore

/// The fields of one message as read from the wire, before conversion to JSON.
struct DecodedMessage {
    enum Slot {
        case scalar(Scalar)
        /// Every occurrence of a singular message field; they merge (are concatenated).
        case message([ArraySlice<UInt8>])
        case list([Value])
        case map(OrderedDictionary<String, Value>)
    }

    /// Indexed like the message's `fields`.
    var slots: [Slot?]
    /// Raw bytes (tags included) of fields the schema does not know, in wire order.
    var unknown: [UInt8] = []

    func scalar(_ descriptor: MessageDescriptor, number: Int) -> Scalar? {
        guard let i = descriptor.indexByNumber[number], case .scalar(let s)? = slots[i] else { return nil }
        return s
    }
}

extension ProtobufCodec {
    /// Decodes the (merged) occurrences of a message and converts it to JSON.
    func jsonForMessage(_ index: Int, _ occurrences: [ArraySlice<UInt8>], depth: Int) throws(ProtobufError) -> Value {
        guard depth < options.maxDepth else { throw ProtobufError(.tooDeep(limit: options.maxDepth)) }
        let bytes = occurrences.count == 1 ? occurrences[0] : ArraySlice(occurrences.joined())
        let descriptor = pool.messages[index]
        let decoded = try decodeFields(descriptor, bytes, depth: depth)
        if let wellKnown = descriptor.wellKnown {
            return try wellKnownJSON(wellKnown, descriptor, decoded, depth: depth)
        }
        return try objectJSON(descriptor, decoded, depth: depth)
    }

    /// Reads every field of one message occurrence.
    func decodeFields(_ descriptor: MessageDescriptor, _ bytes: ArraySlice<UInt8>, depth: Int) throws(ProtobufError)
        -> DecodedMessage
    {
        var message = DecodedMessage(slots: Array(repeating: nil, count: descriptor.fields.count))
        var lastInOneof = [Int?](repeating: nil, count: descriptor.oneofNames.count)
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let tagStart = reader.position
            let (number, wireType) = try reader.readTag()
            guard let fi = descriptor.indexByNumber[number] else {
                try reader.skip(wireType)
                if options.preserveUnknownFields { message.unknown.append(contentsOf: bytes[tagStart..<reader.position]) }
                continue
            }
            let field = descriptor.fields[fi]
            do {
                try readField(field, wireType, &reader, into: &message.slots[fi], depth: depth)
            } catch {
                throw error.within(.field(field.name))
            }
            if let o = field.oneofIndex, o < lastInOneof.count {
                if let previous = lastInOneof[o], previous != fi { message.slots[previous] = nil }
                lastInOneof[o] = fi
            }
        }
        return message
    }

    private func mismatch(_ field: FieldDescriptor, expected: WireType, found: WireType) -> ProtobufError {
        ProtobufError(.wireTypeMismatch(field: field.number, expected: expected.name, found: found.name))
    }

    private func readField(
        _ field: FieldDescriptor, _ wireType: WireType, _ reader: inout WireReader,
        into slot: inout DecodedMessage.Slot?, depth: Int
    ) throws(ProtobufError) {
        if field.isMap {
            guard wireType == .lengthDelimited else {
                throw mismatch(field, expected: .lengthDelimited, found: wireType)
            }
            let entry = try reader.readLengthDelimited()
            var map: OrderedDictionary<String, Value>
            if case .map(let m)? = slot { map = m } else { map = [:] }
            slot = nil  // keep `map` uniquely referenced while appending
            let (key, value) = try decodeMapEntry(field, entry, depth: depth)
            map[key] = value
            slot = .map(map)
            return
        }
        if field.isRepeated {
            var list: [Value]
            if case .list(let l)? = slot { list = l } else { list = [] }
            slot = nil
            if wireType == .lengthDelimited && field.type.isPackable {
                var packed = WireReader(try reader.readLengthDelimited())
                while !packed.isAtEnd {
                    let s: Scalar
                    do { s = try Scalar.read(field.type, from: &packed) } catch { throw error.within(.index(list.count)) }
                    list.append(try scalarJSON(s, field))
                }
            } else {
                guard wireType == field.type.wireType else {
                    throw mismatch(field, expected: field.type.wireType, found: wireType)
                }
                do {
                    if field.type == .message {
                        list.append(try jsonForMessage(field.messageIndex, [try reader.readLengthDelimited()], depth: depth + 1))
                    } else {
                        list.append(try scalarJSON(try Scalar.read(field.type, from: &reader), field))
                    }
                } catch {
                    throw error.within(.index(list.count))
                }
            }
            slot = .list(list)
            return
        }
        guard wireType == field.type.wireType else {
            throw mismatch(field, expected: field.type.wireType, found: wireType)
        }
        if field.type == .message {
            let occurrence = try reader.readLengthDelimited()
            if case .message(var all)? = slot {
                slot = nil
                all.append(occurrence)
                slot = .message(all)
            } else {
                slot = .message([occurrence])
            }
        } else {
            slot = .scalar(try Scalar.read(field.type, from: &reader))
        }
    }

    private func decodeMapEntry(_ field: FieldDescriptor, _ bytes: ArraySlice<UInt8>, depth: Int) throws(ProtobufError)
        -> (String, Value)
    {
        let entry = pool.messages[field.messageIndex]
        guard depth + 1 < options.maxDepth else { throw ProtobufError(.tooDeep(limit: options.maxDepth)) }
        let decoded = try decodeFields(entry, bytes, depth: depth + 1)
        guard let ki = entry.indexByNumber[1], let vi = entry.indexByNumber[2] else {
            throw .invalidDescriptor("map entry \(entry.fullName) lacks a key or value field")
        }
        let keyField = entry.fields[ki]
        let valueField = entry.fields[vi]
        let key: String
        switch decoded.slots[ki] {
        case .scalar(let s)?: key = Self.mapKeyString(s)
        default: key = Self.mapKeyString(Scalar.defaultValue(of: keyField.type))
        }
        do {
            let value: Value
            switch decoded.slots[vi] {
            case .scalar(let s)?: value = try scalarJSON(s, valueField)
            case .message(let occurrences)?: value = try jsonForMessage(valueField.messageIndex, occurrences, depth: depth + 2)
            default:
                if valueField.type == .message {
                    value = try jsonForMessage(valueField.messageIndex, [], depth: depth + 2)
                } else {
                    value = try scalarJSON(Scalar.defaultValue(of: valueField.type), valueField)
                }
            }
            return (key, value)
        } catch {
            throw error.within(.key(key))
        }
    }

    static func mapKeyString(_ s: Scalar) -> String {
        switch s {
        case .signed(let v): String(v)
        case .unsigned(let v): String(v)
        case .bool(let b): b ? "true" : "false"
        case .string(let v): v
        case .enumNumber(let v): String(v)
        case .double(let v): String(v)
        case .float(let v): String(v)
        case .bytes(let v): Base64.encode(v)
        }
    }

    /// A JSON object for a message without special JSON form.
    func objectJSON(_ descriptor: MessageDescriptor, _ decoded: DecodedMessage, depth: Int) throws(ProtobufError) -> Value {
        var out = OrderedDictionary<String, Value>()
        for (fi, field) in descriptor.fields.enumerated() {
            guard let slot = decoded.slots[fi] else { continue }
            let key = options.useProtoFieldNames ? field.name : field.jsonName
            switch slot {
            case .scalar(let s):
                if !field.hasPresence && s.isDefault { continue }
                do { out[key] = try scalarJSON(s, field) } catch { throw error.within(.field(field.name)) }
            case .message(let occurrences):
                do {
                    out[key] = try jsonForMessage(field.messageIndex, occurrences, depth: depth + 1)
                } catch {
                    throw error.within(.field(field.name))
                }
            case .list(let list):
                if !list.isEmpty { out[key] = .array(list) }
            case .map(let map):
                if !map.isEmpty { out[key] = .object(map) }
            }
        }
        if !decoded.unknown.isEmpty {
            out[Self.unknownFieldsKey] = .string(Base64.encode(decoded.unknown))
        }
        return .object(out)
    }

    /// The JSON form of one non-message value of `field`.
    func scalarJSON(_ s: Scalar, _ field: FieldDescriptor) throws(ProtobufError) -> Value {
        switch s {
        case .signed(let v):
            switch field.type {
            case .int64, .sint64, .sfixed64: return .string(String(v))
            default: return .int(Int(v))
            }
        case .unsigned(let v):
            switch field.type {
            case .uint64, .fixed64: return .string(String(v))
            default: return .int(Int(v))
            }
        case .double(let d):
            return Self.floatingJSON(d)
        case .float(let f):
            guard f.isFinite else { return Self.floatingJSON(Double(f)) }
            // The shortest decimal that reads back as this float, as other implementations print it.
            return .double(Double(f.description) ?? Double(f))
        case .bool(let b):
            return .bool(b)
        case .string(let s):
            return .string(s)
        case .bytes(let b):
            return .string(Base64.encode(b))
        case .enumNumber(let n):
            let e = pool.enums[field.enumIndex]
            if e.isNullValue { return .null }
            if let name = e.nameByNumber[n] { return .string(name) }
            return .int(Int(n))
        }
    }

    static func floatingJSON(_ d: Double) -> Value {
        if d.isNaN { return .string("NaN") }
        if d == .infinity { return .string("Infinity") }
        if d == -.infinity { return .string("-Infinity") }
        return .double(d)
    }
}
