import OrderedCollections
import TapedeckCore

extension ProtobufCodec {
    // MARK: decoding

    func wellKnownJSON(
        _ kind: WellKnownType, _ descriptor: MessageDescriptor, _ decoded: DecodedMessage, depth: Int
    ) throws(ProtobufError) -> Value {
        func signed(_ number: Int) -> Int64 {
            if case .signed(let v)? = decoded.scalar(descriptor, number: number) { return v }
            return 0
        }
        func slot(_ number: Int) -> DecodedMessage.Slot? {
            guard let i = descriptor.indexByNumber[number] else { return nil }
            return decoded.slots[i]
        }
        switch kind {
        case .timestamp:
            let (seconds, nanos) = (signed(1), signed(2))
            guard let text = TimestampFormat.format(seconds: seconds, nanos: Int32(truncatingIfNeeded: nanos)),
                Int64(Int32(truncatingIfNeeded: nanos)) == nanos
            else {
                throw .invalidValue("Timestamp seconds \(seconds) nanos \(nanos) is outside 0001-01-01 to 9999-12-31")
            }
            return .string(text)
        case .duration:
            let (seconds, nanos) = (signed(1), signed(2))
            guard let text = DurationFormat.format(seconds: seconds, nanos: Int32(truncatingIfNeeded: nanos)) else {
                throw .invalidValue("Duration seconds \(seconds) nanos \(nanos) is out of range")
            }
            return .string(text)
        case .wrapper(let type):
            guard let i = descriptor.indexByNumber[1] else { return .null }
            let s: Scalar
            if case .scalar(let v)? = decoded.slots[i] { s = v } else { s = Scalar.defaultValue(of: type) }
            return try scalarJSON(s, descriptor.fields[i])
        case .struct:
            if case .map(let fields)? = slot(1) { return .object(fields) }
            return .object([:])
        case .listValue:
            if case .list(let values)? = slot(1) { return .array(values) }
            return .array([])
        case .value:
            for number in 1...6 {
                guard let s = slot(number) else { continue }
                switch (number, s) {
                case (1, _): return .null
                case (2, .scalar(.double(let d))):
                    guard d.isFinite else { throw .invalidValue("Value.number_value \(d) has no JSON form") }
                    if d.rounded() == d, abs(d) < 9_007_199_254_740_992 { return .int(Int(d)) }
                    return .double(d)
                case (3, .scalar(.string(let v))): return .string(v)
                case (4, .scalar(.bool(let v))): return .bool(v)
                case (5, .message(let occurrences)), (6, .message(let occurrences)):
                    let field = descriptor.fields[descriptor.indexByNumber[number] ?? 0]
                    do {
                        return try jsonForMessage(field.messageIndex, occurrences, depth: depth + 1)
                    } catch {
                        throw error.within(.field(field.name))
                    }
                default: continue
                }
            }
            return .null
        case .empty:
            return .object([:])
        case .fieldMask:
            guard case .list(let paths)? = slot(1) else { return .string("") }
            var out: [String] = []
            for path in paths {
                guard case .string(let p) = path, let camel = Self.fieldMaskPathToJSON(p) else {
                    throw .invalidValue("FieldMask path \(path) has no JSON form")
                }
                out.append(camel)
            }
            return .string(out.joined(separator: ","))
        case .any:
            var typeURL = ""
            var payload: ArraySlice<UInt8> = []
            if case .string(let s)? = decoded.scalar(descriptor, number: 1) { typeURL = s }
            if case .bytes(let b)? = decoded.scalar(descriptor, number: 2) { payload = b }
            if typeURL.isEmpty && payload.isEmpty { return .object([:]) }
            let typeName = typeURL.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            guard let target = pool.message(named: typeName) else {
                throw ProtobufError(.unknownMessageType(typeURL))
            }
            let inner: Value
            do {
                inner = try jsonForMessage(target, [payload], depth: depth + 1)
            } catch {
                throw error.within(.field("value"))
            }
            var out: OrderedDictionary<String, Value> = ["@type": .string(typeURL)]
            if pool.messages[target].wellKnown != nil {
                out["value"] = inner
            } else if case .object(let fields) = inner {
                for (k, v) in fields { out[k] = v }
            }
            return .object(out)
        }
    }

    /// `foo_bar.baz` -> `fooBar.baz`; nil when the path would not read back the same.
    static func fieldMaskPathToJSON(_ path: String) -> String? {
        var out = ""
        var upper = false
        for c in path {
            if c.isUppercase { return nil }
            if c == "_" {
                if upper { return nil }
                upper = true
            } else if upper {
                guard c.isLowercase else { return nil }
                out += c.uppercased()
                upper = false
            } else {
                out.append(c)
            }
        }
        return upper ? nil : out
    }

    /// `fooBar.baz` -> `foo_bar.baz`.
    static func fieldMaskPathFromJSON(_ path: String) -> String? {
        var out = ""
        for c in path {
            if c == "_" { return nil }
            if c.isUppercase {
                out += "_" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }

    // MARK: encoding

    func encodeWellKnown(
        _ kind: WellKnownType, _ descriptor: MessageDescriptor, _ value: Value, depth: Int
    ) throws(ProtobufError) -> [UInt8] {
        var writer = WireWriter()
        func field(_ number: Int) throws(ProtobufError) -> FieldDescriptor {
            guard let i = descriptor.indexByNumber[number] else {
                throw .invalidDescriptor("\(descriptor.fullName) lacks field \(number)")
            }
            return descriptor.fields[i]
        }
        func writeSecondsNanos(_ seconds: Int64, _ nanos: Int32) {
            if seconds != 0 {
                writer.writeTag(1, .varint)
                writer.writeVarint(UInt64(bitPattern: seconds))
            }
            if nanos != 0 {
                writer.writeTag(2, .varint)
                writer.writeVarint(UInt64(bitPattern: Int64(nanos)))
            }
        }
        switch kind {
        case .timestamp:
            guard case .string(let text) = value else {
                throw .typeMismatch(expected: "RFC 3339 timestamp string", found: value)
            }
            guard let (seconds, nanos) = TimestampFormat.parse(text) else {
                throw .invalidValue("invalid timestamp \(ProtobufError.quote(text)), expected e.g. \"2024-05-01T12:00:00Z\"")
            }
            writeSecondsNanos(seconds, nanos)
        case .duration:
            guard case .string(let text) = value else { throw .typeMismatch(expected: "duration string", found: value) }
            guard let (seconds, nanos) = DurationFormat.parse(text) else {
                throw .invalidValue("invalid duration \(ProtobufError.quote(text)), expected e.g. \"1.5s\"")
            }
            writeSecondsNanos(seconds, nanos)
        case .wrapper:
            try encodeField(try field(1), value, into: &writer, depth: depth)
        case .struct:
            guard case .object = value else { throw .typeMismatch(expected: "object", found: value) }
            try encodeField(try field(1), value, into: &writer, depth: depth)
        case .listValue:
            guard case .array = value else { throw .typeMismatch(expected: "list", found: value) }
            try encodeField(try field(1), value, into: &writer, depth: depth)
        case .value:
            switch value {
            case .null:
                writer.writeTag(1, .varint)
                writer.writeVarint(0)
            case .int, .double:
                writer.writeTag(2, .fixed64)
                writer.writeFixed64((value.doubleValue ?? 0).bitPattern)
            case .string(let s):
                writer.writeTag(3, .lengthDelimited)
                writer.writeLengthDelimited(Array(s.utf8))
            case .bool(let b):
                writer.writeTag(4, .varint)
                writer.writeVarint(b ? 1 : 0)
            case .object:
                let f = try field(5)
                writer.writeTag(5, .lengthDelimited)
                writer.writeLengthDelimited(try encodeMessage(f.messageIndex, value, depth: depth + 1))
            case .array:
                let f = try field(6)
                writer.writeTag(6, .lengthDelimited)
                writer.writeLengthDelimited(try encodeMessage(f.messageIndex, value, depth: depth + 1))
            }
        case .empty:
            guard case .object(let o) = value else { throw .typeMismatch(expected: "object", found: value) }
            if let key = o.keys.first { throw ProtobufError(.unknownField, path: [.field(key)]) }
        case .fieldMask:
            guard case .string(let text) = value else { throw .typeMismatch(expected: "field mask string", found: value) }
            for path in text.split(separator: ",", omittingEmptySubsequences: true) {
                guard let snake = Self.fieldMaskPathFromJSON(String(path)) else {
                    throw .invalidValue("invalid FieldMask path \(ProtobufError.quote(String(path)))")
                }
                writer.writeTag(1, .lengthDelimited)
                writer.writeLengthDelimited(Array(snake.utf8))
            }
        case .any:
            guard case .object(var object) = value else { throw .typeMismatch(expected: "object", found: value) }
            if object.isEmpty { break }
            guard case .string(let typeURL)? = object.removeValue(forKey: "@type") else {
                throw ProtobufError(.invalidValue("Any needs an \"@type\" string"))
            }
            let typeName = typeURL.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            guard let target = pool.message(named: typeName) else { throw ProtobufError(.unknownMessageType(typeURL)) }
            let payload: [UInt8]
            if pool.messages[target].wellKnown != nil {
                if let extra = object.keys.first(where: { $0 != "value" }) {
                    throw ProtobufError(.unknownField, path: [.field(extra)])
                }
                do {
                    payload = try encodeMessage(target, object["value"] ?? .null, depth: depth + 1)
                } catch {
                    throw error.within(.field("value"))
                }
            } else {
                payload = try encodeObject(pool.messages[target], object, depth: depth + 1)
            }
            writer.writeTag(1, .lengthDelimited)
            writer.writeLengthDelimited(Array(typeURL.utf8))
            if !payload.isEmpty {
                writer.writeTag(2, .lengthDelimited)
                writer.writeLengthDelimited(payload)
            }
        }
        return writer.bytes
    }
}
