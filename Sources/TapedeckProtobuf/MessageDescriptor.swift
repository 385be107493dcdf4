/// A message type, with fields sorted by number.
struct MessageDescriptor: Sendable {
    let fullName: String
    /// Sorted by field number.
    var fields: [FieldDescriptor]
    /// Field number -> index into `fields`.
    let indexByNumber: [Int: Int]
    /// Both the JSON name and the .proto name -> index into `fields`.
    let indexByName: [String: Int]
    let oneofNames: [String]
    let isMapEntry: Bool
    let wellKnown: WellKnownType?

    init(fullName: String, fields unsorted: [FieldDescriptor], oneofNames: [String], isMapEntry: Bool) {
        self.fullName = fullName
        self.fields = unsorted.sorted { $0.number < $1.number }
        var byNumber: [Int: Int] = [:]
        var byName: [String: Int] = [:]
        for (i, f) in fields.enumerated() {
            byNumber[f.number] = i
            byName[f.name] = i
            byName[f.jsonName] = i
        }
        self.indexByNumber = byNumber
        self.indexByName = byName
        self.oneofNames = oneofNames
        self.isMapEntry = isMapEntry
        self.wellKnown = WellKnownType(fullName: fullName)
    }
}

/// Message types with a special proto3 JSON representation.
enum WellKnownType: Sendable, Equatable {
    case timestamp, duration, `struct`, value, listValue, empty, fieldMask, any
    case wrapper(FieldType)

    init?(fullName: String) {
        switch fullName {
        case "google.protobuf.Timestamp": self = .timestamp
        case "google.protobuf.Duration": self = .duration
        case "google.protobuf.Struct": self = .struct
        case "google.protobuf.Value": self = .value
        case "google.protobuf.ListValue": self = .listValue
        case "google.protobuf.Empty": self = .empty
        case "google.protobuf.FieldMask": self = .fieldMask
        case "google.protobuf.Any": self = .any
        case "google.protobuf.DoubleValue": self = .wrapper(.double)
        case "google.protobuf.FloatValue": self = .wrapper(.float)
        case "google.protobuf.Int64Value": self = .wrapper(.int64)
        case "google.protobuf.UInt64Value": self = .wrapper(.uint64)
        case "google.protobuf.Int32Value": self = .wrapper(.int32)
        case "google.protobuf.UInt32Value": self = .wrapper(.uint32)
        case "google.protobuf.BoolValue": self = .wrapper(.bool)
        case "google.protobuf.StringValue": self = .wrapper(.string)
        case "google.protobuf.BytesValue": self = .wrapper(.bytes)
        default: return nil
        }
    }
}
