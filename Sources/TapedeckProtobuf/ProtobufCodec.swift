public import TapedeckCore

/// Converts binary protobuf messages of one type to and from Tapedeck's ``Value`` through
/// the proto3 JSON mapping, driven by a ``DescriptorPool`` (no generated code).
///
/// The mapping follows https://protobuf.dev/programming-guides/json/:
/// - fields are keyed by their lowerCamelCase JSON name on output; on input both the JSON
///   name and the .proto name are accepted;
/// - enums are names (numbers accepted on input; unknown numbers are output as numbers);
/// - 64-bit integers are strings on output (numbers or strings accepted on input);
/// - `bytes` are base64; `float`/`double` use `"NaN"`, `"Infinity"`, `"-Infinity"`;
/// - fields without presence are omitted when they hold their default value; `optional`,
///   oneof members and message fields are output whenever set;
/// - well-known types: Timestamp (RFC 3339), Duration (`"1.5s"`), the wrappers (plain
///   values), Struct / Value / ListValue (plain JSON), Empty, FieldMask, Any (`"@type"`).
///
/// Unknown fields found while decoding are kept, in wire order, as a base64 string under
/// ``unknownFieldsKey`` in the object of the message that held them; ``encode(_:)`` writes
/// those bytes back verbatim after the known fields, so a decode/encode round trip keeps them.
///
///     let pool = try DescriptorPool(contentsOf: "protos/workitems.pb")
///     let codec = try ProtobufCodec(pool: pool, messageType: "workitems.v1.WebSocketMessage")
///     let value = try codec.decode(frame)      // {"messageId": "ping-1", "ping": {"timestamp": "1234567890"}}
///     let bytes = try codec.encode(value)
public struct ProtobufCodec: Sendable {
    /// Settings for a codec.
    public struct Options: Sendable {
        /// Keep unknown fields on decode under ``ProtobufCodec/unknownFieldsKey``. Default `true`.
        public var preserveUnknownFields: Bool
        /// On encode, skip object keys that name no field instead of failing. Default `false`.
        public var ignoreUnknownFields: Bool
        /// Key decoded fields by their .proto name (`work_item_id`) instead of the JSON name. Default `false`.
        public var useProtoFieldNames: Bool
        /// The deepest message nesting accepted in either direction. Default 100.
        public var maxDepth: Int

        /// Settings with the defaults above unless given.
        public init(
            preserveUnknownFields: Bool = true, ignoreUnknownFields: Bool = false,
            useProtoFieldNames: Bool = false, maxDepth: Int = 100
        ) {
            self.preserveUnknownFields = preserveUnknownFields
            self.ignoreUnknownFields = ignoreUnknownFields
            self.useProtoFieldNames = useProtoFieldNames
            self.maxDepth = maxDepth
        }
    }

    /// The object key under which unknown fields are kept: `"$unknownFields"`, whose value is
    /// the base64 of the fields' raw bytes (tags included).
    public static let unknownFieldsKey = "$unknownFields"

    /// The fully qualified name of the message type this codec reads and writes.
    public let messageType: String
    /// The codec's settings.
    public let options: Options

    let pool: DescriptorPool
    let rootIndex: Int

    /// A codec for `messageType` (fully qualified, e.g. `workitems.v1.WebSocketMessage`).
    /// Throws if the pool has no such message type.
    public init(pool: DescriptorPool, messageType: String, options: Options = Options()) throws(ProtobufError) {
        guard let index = pool.message(named: messageType) else {
            throw ProtobufError(.unknownMessageType(messageType))
        }
        self.pool = pool
        self.rootIndex = index
        self.messageType = DescriptorPool.trimDot(messageType)
        self.options = options
    }

    /// Decodes one binary message to its proto3 JSON form.
    ///
    /// Malformed input (truncated data, bad varints, invalid wire types, field number 0,
    /// groups, invalid UTF-8 in a string, nesting beyond ``Options/maxDepth``) throws.
    public func decode(_ bytes: [UInt8]) throws(ProtobufError) -> Value {
        try decode(bytes[...])
    }

    /// Decodes one binary message held in a slice; error offsets are indices of the slice.
    public func decode(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> Value {
        try jsonForMessage(rootIndex, [bytes], depth: 0)
    }

    /// Encodes a value in the proto3 JSON form to one binary message.
    ///
    /// Fields are written in field-number order, repeated scalars packed (unless the schema
    /// says otherwise), map entries in the object's key order. A value of the wrong type, an
    /// unknown key, a value out of range or two members of one oneof throw, naming the path.
    public func encode(_ value: Value) throws(ProtobufError) -> [UInt8] {
        try encodeMessage(rootIndex, value, depth: 0)
    }
}
