import Foundation
internal import SwiftProtobuf

/// The message and enum types of a compiled descriptor set
/// (`protoc --include_imports --descriptor_set_out=x.pb`), ready for ``ProtobufCodec``.
///
/// Loading resolves every field's type up front, so a codec never meets an unknown type
/// at run time. Include the imports: a field whose type is missing from the set is an error.
public struct DescriptorPool: Sendable {
    var messages: [MessageDescriptor] = []
    var enums: [EnumDescriptor] = []
    var messageIndex: [String: Int] = [:]
    var enumIndex: [String: Int] = [:]

    /// Loads a serialized `google.protobuf.FileDescriptorSet`.
    public init(descriptorSetBytes: [UInt8]) throws(ProtobufError) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSetBytes)
        } catch {
            throw .invalidDescriptor("not a FileDescriptorSet (\(error))")
        }
        try load(set)
    }

    /// Loads a descriptor set file.
    public init(contentsOf path: String) throws(ProtobufError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidDescriptor("cannot read \(path)")
        }
        try self.init(descriptorSetBytes: [UInt8](data))
    }

    /// The fully qualified names of all message types, e.g. `workitems.v1.WebSocketMessage`, sorted.
    public var messageTypeNames: [String] { messageIndex.keys.sorted() }

    /// Whether the pool has a message type of this fully qualified name.
    public func hasMessageType(_ fullName: String) -> Bool { messageIndex[Self.trimDot(fullName)] != nil }

    func message(named fullName: String) -> Int? { messageIndex[Self.trimDot(fullName)] }

    static func trimDot(_ name: String) -> String { name.hasPrefix(".") ? String(name.dropFirst()) : name }
}

extension DescriptorPool {
    private struct PendingMessage {
        var descriptor: MessageDescriptor
        /// The enclosing scope, for resolving relative type names.
        var scope: String
    }

    private mutating func load(_ set: Google_Protobuf_FileDescriptorSet) throws(ProtobufError) {
        var pending: [PendingMessage] = []
        for file in set.file {
            let syntax: Syntax =
                switch file.syntax {
                case "proto3": .proto3
                case "editions": .editions
                default: .proto2
                }
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for e in file.enumType { try addEnum(e, prefix: prefix) }
            for m in file.messageType { try addMessage(m, prefix: prefix, syntax: syntax, into: &pending) }
        }
        // Resolve type names to indices.
        messages.reserveCapacity(pending.count)
        for (i, p) in pending.enumerated() {
            guard messageIndex.updateValue(i, forKey: p.descriptor.fullName) == nil else {
                throw .invalidDescriptor("message \(p.descriptor.fullName) defined twice")
            }
        }
        for p in pending {
            var d = p.descriptor
            for fi in d.fields.indices {
                let f = d.fields[fi]
                switch f.type {
                case .message, .group:
                    guard let target = resolve(f.typeName, from: p.scope, in: messageIndex) else {
                        throw .invalidDescriptor("\(d.fullName).\(f.name): unknown message type \(f.typeName)")
                    }
                    d.fields[fi].messageIndex = target
                    d.fields[fi].isMap = f.isRepeated && pending[target].descriptor.isMapEntry
                case .enum:
                    guard let target = resolve(f.typeName, from: p.scope, in: enumIndex) else {
                        throw .invalidDescriptor("\(d.fullName).\(f.name): unknown enum type \(f.typeName)")
                    }
                    d.fields[fi].enumIndex = target
                default:
                    break
                }
            }
            messages.append(d)
        }
        // Map entries need a key (1) and a value (2).
        for d in messages where d.isMapEntry {
            guard d.indexByNumber[1] != nil, d.indexByNumber[2] != nil else {
                throw .invalidDescriptor("map entry \(d.fullName) lacks a key or value field")
            }
        }
    }

    private enum Syntax { case proto2, proto3, editions }

    private mutating func addEnum(_ e: Google_Protobuf_EnumDescriptorProto, prefix: String) throws(ProtobufError) {
        let fullName = prefix + e.name
        guard enumIndex[fullName] == nil else { throw .invalidDescriptor("enum \(fullName) defined twice") }
        enumIndex[fullName] = enums.count
        enums.append(EnumDescriptor(fullName: fullName, values: e.value.map { ($0.name, $0.number) }))
    }

    private mutating func addMessage(
        _ m: Google_Protobuf_DescriptorProto, prefix: String, syntax: Syntax, into pending: inout [PendingMessage]
    ) throws(ProtobufError) {
        let fullName = prefix + m.name
        var fields: [FieldDescriptor] = []
        var numbers = Set<Int>()
        for f in m.field {
            guard let type = FieldType(rawValue: f.type.rawValue) else {
                throw .invalidDescriptor("\(fullName).\(f.name): unsupported field type \(f.type.rawValue)")
            }
            let number = Int(f.number)
            guard number >= 1, number <= 536_870_911, numbers.insert(number).inserted else {
                throw .invalidDescriptor("\(fullName).\(f.name): invalid or duplicate field number \(number)")
            }
            let repeated = f.label == .repeated
            let inOneof = f.hasOneofIndex
            let presence: Bool
            let packed: Bool
            switch syntax {
            case .proto3:
                presence = !repeated && (type == .message || type == .group || inOneof || f.proto3Optional)
                packed = repeated && type.isPackable && (f.options.hasPacked ? f.options.packed : true)
            case .proto2:
                presence = !repeated
                packed = repeated && type.isPackable && f.options.packed
            case .editions:
                let implicit = f.options.features.hasFieldPresence && f.options.features.fieldPresence == .implicit
                presence = !repeated && (type == .message || inOneof || !implicit)
                let expanded =
                    f.options.features.hasRepeatedFieldEncoding && f.options.features.repeatedFieldEncoding == .expanded
                packed = repeated && type.isPackable && !expanded
            }
            let jsonName = f.hasJsonName ? f.jsonName : Self.lowerCamel(f.name)
            fields.append(
                FieldDescriptor(
                    name: f.name, jsonName: jsonName, number: number, type: type, isRepeated: repeated,
                    isPacked: packed, hasPresence: presence, oneofIndex: inOneof ? Int(f.oneofIndex) : nil,
                    typeName: Self.trimDot(f.typeName)))
        }
        pending.append(
            PendingMessage(
                descriptor: MessageDescriptor(
                    fullName: fullName, fields: fields, oneofNames: m.oneofDecl.map(\.name),
                    isMapEntry: m.options.mapEntry),
                scope: fullName))
        for e in m.enumType { try addEnum(e, prefix: fullName + ".") }
        for nested in m.nestedType { try addMessage(nested, prefix: fullName + ".", syntax: syntax, into: &pending) }
    }

    /// Resolves a type name: fully qualified (protoc always writes these) or relative to `scope`,
    /// searched from the innermost scope outward, like protoc.
    private func resolve(_ name: String, from scope: String, in table: [String: Int]) -> Int? {
        if let hit = table[name] { return hit }
        var parts = scope.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            if let hit = table[parts.joined(separator: ".") + "." + name] { return hit }
            parts.removeLast()
        }
        return nil
    }

    /// protoc's default JSON name: underscores dropped, the letter after each capitalised.
    static func lowerCamel(_ name: String) -> String {
        var out = ""
        var upper = false
        for c in name {
            if c == "_" {
                upper = true
            } else if upper {
                out += c.uppercased()
                upper = false
            } else {
                out.append(c)
            }
        }
        return out
    }
}
