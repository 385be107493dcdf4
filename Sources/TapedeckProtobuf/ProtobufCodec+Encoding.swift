import OrderedCollections
import TapedeckCore

extension ProtobufCodec {
    /// Encodes one message (of any kind, well-known or not) from its JSON form.
    func encodeMessage(_ index: Int, _ value: Value, depth: Int) throws(ProtobufError) -> [UInt8] {
        guard depth < options.maxDepth else { throw ProtobufError(.tooDeep(limit: options.maxDepth)) }
        let descriptor = pool.messages[index]
        if let wellKnown = descriptor.wellKnown {
            return try encodeWellKnown(wellKnown, descriptor, value, depth: depth)
        }
        guard case .object(let object) = value else { throw .typeMismatch(expected: "object", found: value) }
        return try encodeObject(descriptor, object, depth: depth)
    }

    /// Whether JSON `null` is a real value for this field rather than "unset".
    private func nullIsValue(_ field: FieldDescriptor) -> Bool {
        switch field.type {
        case .message: pool.messages[field.messageIndex].wellKnown == .value
        case .enum: pool.enums[field.enumIndex].isNullValue
        default: false
        }
    }

    func encodeObject(
        _ descriptor: MessageDescriptor, _ object: OrderedDictionary<String, Value>, depth: Int
    ) throws(ProtobufError) -> [UInt8] {
        var assigned = [(key: String, value: Value)?](repeating: nil, count: descriptor.fields.count)
        var oneofSetBy = [String?](repeating: nil, count: descriptor.oneofNames.count)
        var unknown: [UInt8] = []
        for (key, value) in object {
            if key == Self.unknownFieldsKey {
                unknown = try Self.unknownFieldBytes(value)
                continue
            }
            guard let fi = descriptor.indexByName[key] else {
                if options.ignoreUnknownFields { continue }
                throw ProtobufError(.unknownField, path: [.field(key)])
            }
            let field = descriptor.fields[fi]
            if let previous = assigned[fi] {
                throw ProtobufError(.duplicateField(field.name), path: [])
                    .withNote(previous.key == key ? nil : (previous.key, key))
            }
            if let o = field.oneofIndex, o < oneofSetBy.count, !value.isNull || nullIsValue(field) {
                if let other = oneofSetBy[o] {
                    throw ProtobufError(.multipleOneofFields(oneof: descriptor.oneofNames[o], other: other), path: [.field(key)])
                }
                oneofSetBy[o] = key
            }
            assigned[fi] = (key, value)
        }
        var writer = WireWriter()
        for (fi, field) in descriptor.fields.enumerated() {
            guard let (key, value) = assigned[fi] else { continue }
            do {
                try encodeField(field, value, into: &writer, depth: depth)
            } catch {
                throw error.within(.field(key))
            }
        }
        writer.bytes.append(contentsOf: unknown)
        return writer.bytes
    }

    /// Checks and decodes the value kept under ``unknownFieldsKey``.
    static func unknownFieldBytes(_ value: Value) throws(ProtobufError) -> [UInt8] {
        guard case .string(let text) = value else {
            throw ProtobufError(.typeMismatch(expected: "base64 string", found: ProtobufError.describe(value)), path: [.field(unknownFieldsKey)])
        }
        guard let bytes = Base64.decode(text) else {
            throw ProtobufError(.invalidValue("invalid base64"), path: [.field(unknownFieldsKey)])
        }
        // They are written verbatim, so they must be well-formed fields.
        var reader = WireReader(bytes[...])
        do {
            while !reader.isAtEnd { try reader.skip(try reader.readTag().wireType) }
        } catch {
            throw ProtobufError(.invalidValue("not a sequence of protobuf fields (\(error))"), path: [.field(unknownFieldsKey)])
        }
        return bytes
    }

    func encodeField(_ field: FieldDescriptor, _ value: Value, into writer: inout WireWriter, depth: Int) throws(ProtobufError) {
        if field.isMap {
            if value.isNull { return }
            guard case .object(let object) = value else { throw .typeMismatch(expected: "object", found: value) }
            let entry = pool.messages[field.messageIndex]
            guard let ki = entry.indexByNumber[1], let vi = entry.indexByNumber[2] else {
                throw .invalidDescriptor("map entry \(entry.fullName) lacks a key or value field")
            }
            for (key, element) in object {
                do {
                    var entryWriter = WireWriter()
                    let keyField = entry.fields[ki]
                    entryWriter.writeTag(1, keyField.type.wireType)
                    try mapKey(key, keyField).write(as: keyField.type, to: &entryWriter)
                    try encodeSingle(entry.fields[vi], element, into: &entryWriter, depth: depth + 1, alwaysWrite: true, isElement: true)
                    writer.writeTag(field.number, .lengthDelimited)
                    writer.writeLengthDelimited(entryWriter.bytes)
                } catch {
                    throw error.within(.key(key))
                }
            }
            return
        }
        if field.isRepeated {
            if value.isNull { return }
            guard case .array(let items) = value else { throw .typeMismatch(expected: "list", found: value) }
            if field.isPacked {
                guard !items.isEmpty else { return }
                var packed = WireWriter()
                for (i, item) in items.enumerated() {
                    do throws(ProtobufError) {
                        if item.isNull { throw ProtobufError.invalidValue("null is not allowed in a list") }
                        try scalar(from: item, field).write(as: field.type, to: &packed)
                    } catch {
                        throw error.within(.index(i))
                    }
                }
                writer.writeTag(field.number, .lengthDelimited)
                writer.writeLengthDelimited(packed.bytes)
            } else {
                for (i, item) in items.enumerated() {
                    do {
                        try encodeSingle(field, item, into: &writer, depth: depth, alwaysWrite: true, isElement: true)
                    } catch {
                        throw error.within(.index(i))
                    }
                }
            }
            return
        }
        try encodeSingle(field, value, into: &writer, depth: depth, alwaysWrite: field.hasPresence, isElement: false)
    }

    /// Writes one tagged value. `alwaysWrite` keeps default values (presence, list elements, map values).
    private func encodeSingle(
        _ field: FieldDescriptor, _ value: Value, into writer: inout WireWriter, depth: Int, alwaysWrite: Bool,
        isElement: Bool
    ) throws(ProtobufError) {
        if value.isNull && !nullIsValue(field) {
            if isElement { throw .invalidValue("null is not allowed here") }
            return
        }
        if field.type == .message {
            let bytes = try encodeMessage(field.messageIndex, value, depth: depth + 1)
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(bytes)
            return
        }
        if field.type == .group {
            throw .invalidValue("groups are not supported")
        }
        let s = try scalar(from: value, field)
        if !alwaysWrite && s.isDefault { return }
        writer.writeTag(field.number, field.type.wireType)
        s.write(as: field.type, to: &writer)
    }

    private func mapKey(_ key: String, _ field: FieldDescriptor) throws(ProtobufError) -> Scalar {
        switch field.type {
        case .bool:
            switch key {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw .typeMismatch(expected: "map key \"true\" or \"false\"", found: .string(key))
            }
        case .string:
            return .string(key)
        default:
            return try scalar(from: .string(key), field)
        }
    }

    /// Converts a JSON value to the wire value of a non-message field.
    func scalar(from value: Value, _ field: FieldDescriptor) throws(ProtobufError) -> Scalar {
        switch field.type {
        case .int32, .sint32, .sfixed32:
            return .signed(try Self.signedInteger(value, min: Int64(Int32.min), max: Int64(Int32.max), type: "int32"))
        case .int64, .sint64, .sfixed64:
            return .signed(try Self.signedInteger(value, min: .min, max: .max, type: "int64"))
        case .uint32, .fixed32:
            return .unsigned(try Self.unsignedInteger(value, max: UInt64(UInt32.max), type: "uint32"))
        case .uint64, .fixed64:
            return .unsigned(try Self.unsignedInteger(value, max: .max, type: "uint64"))
        case .double:
            return .double(try Self.floating(value, isFloat: false))
        case .float:
            return .float(Float(try Self.floating(value, isFloat: true)))
        case .bool:
            guard case .bool(let b) = value else { throw .typeMismatch(expected: "bool", found: value) }
            return .bool(b)
        case .string:
            guard case .string(let s) = value else { throw .typeMismatch(expected: "string", found: value) }
            return .string(s)
        case .bytes:
            guard case .string(let s) = value else { throw .typeMismatch(expected: "base64 string", found: value) }
            guard let bytes = Base64.decode(s) else { throw .invalidValue("invalid base64 \(ProtobufError.quote(s))") }
            return .bytes(bytes[...])
        case .enum:
            let e = pool.enums[field.enumIndex]
            switch value {
            case .null where e.isNullValue:
                return .enumNumber(0)
            case .string(let name):
                guard let n = e.numberByName[name] else { throw ProtobufError(.unknownEnumName(name, enumType: e.fullName)) }
                return .enumNumber(n)
            case .int, .double:
                return .enumNumber(Int32(try Self.signedInteger(value, min: Int64(Int32.min), max: Int64(Int32.max), type: "enum")))
            default:
                throw .typeMismatch(expected: "enum name or number", found: value)
            }
        case .message, .group:
            throw .invalidValue("internal: \(field.name) is not a scalar")
        }
    }

    static func signedInteger(_ value: Value, min: Int64, max: Int64, type: String) throws(ProtobufError) -> Int64 {
        let n: Int64
        switch value {
        case .int(let i):
            n = Int64(i)
        case .double(let d):
            guard d.isFinite, d.rounded() == d else { throw .typeMismatch(expected: "integer", found: value) }
            guard let exact = Int64(exactly: d) else { throw .outOfRange("\(d) for \(type)") }
            n = exact
        case .string(let s):
            guard let parsed = Int64(s) else {
                if isIntegerText(s) { throw .outOfRange("\(s) for \(type)") }
                throw .typeMismatch(expected: "integer", found: value)
            }
            n = parsed
        default:
            throw .typeMismatch(expected: "integer", found: value)
        }
        guard n >= min, n <= max else { throw .outOfRange("\(n) for \(type)") }
        return n
    }

    static func unsignedInteger(_ value: Value, max: UInt64, type: String) throws(ProtobufError) -> UInt64 {
        let n: UInt64
        switch value {
        case .int(let i):
            guard i >= 0 else { throw .outOfRange("\(i) for \(type)") }
            n = UInt64(i)
        case .double(let d):
            guard d.isFinite, d.rounded() == d else { throw .typeMismatch(expected: "integer", found: value) }
            guard let exact = UInt64(exactly: d) else { throw .outOfRange("\(d) for \(type)") }
            n = exact
        case .string(let s):
            guard let parsed = UInt64(s) else {
                if isIntegerText(s) { throw .outOfRange("\(s) for \(type)") }
                throw .typeMismatch(expected: "integer", found: value)
            }
            n = parsed
        default:
            throw .typeMismatch(expected: "integer", found: value)
        }
        guard n <= max else { throw .outOfRange("\(n) for \(type)") }
        return n
    }

    private static func isIntegerText(_ s: String) -> Bool {
        var digits = Substring(s)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func floating(_ value: Value, isFloat: Bool) throws(ProtobufError) -> Double {
        let d: Double
        switch value {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string(let s):
            guard !s.contains(where: { $0 == "x" || $0 == "X" }), let x = Double(s), x.isFinite else {
                throw .typeMismatch(expected: "number", found: value)
            }
            d = x
        default:
            throw .typeMismatch(expected: "number", found: value)
        }
        // Rounding to the nearest float is fine (3.4028235e38 is how FLT_MAX prints); overflowing is not.
        if isFloat && !Float(d).isFinite {
            throw .outOfRange("\(d) for float")
        }
        return d
    }
}

extension ProtobufError {
    /// Duplicate-field errors name both spellings when the JSON and .proto names were both used.
    fileprivate func withNote(_ keys: (String, String)?) -> ProtobufError {
        guard let (first, second) = keys else { return self }
        return ProtobufError(.invalidValue("field given twice, as \(ProtobufError.quote(first)) and \(ProtobufError.quote(second))"), path: components)
    }
}
