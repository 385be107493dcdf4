/// One field of a message, resolved against the pool.
struct FieldDescriptor: Sendable {
    /// The name in the .proto file (`work_item_id`).
    let name: String
    /// The proto3 JSON name (`workItemId`, or the `json_name` option).
    let jsonName: String
    let number: Int
    let type: FieldType
    let isRepeated: Bool
    /// Repeated scalars are written packed.
    let isPacked: Bool
    /// Singular fields that distinguish "unset" from the default value: messages, oneof
    /// members, proto3 `optional`, and proto2 / editions explicit presence.
    let hasPresence: Bool
    /// Index into the message's `oneofNames`, for real and synthetic oneofs.
    let oneofIndex: Int?
    /// Fully qualified name of the message or enum type, without a leading dot.
    let typeName: String
    /// Index into the pool's messages, for message fields (set during resolution).
    var messageIndex: Int = -1
    /// Index into the pool's enums, for enum fields (set during resolution).
    var enumIndex: Int = -1
    /// A `map<K, V>` field: repeated, of a map-entry message type (set during resolution).
    var isMap = false
}
