/// An enum type: value names by number and numbers by name.
struct EnumDescriptor: Sendable {
    let fullName: String
    /// The first name declared for each number (aliases keep the first).
    let nameByNumber: [Int32: String]
    let numberByName: [String: Int32]

    init(fullName: String, values: [(name: String, number: Int32)]) {
        self.fullName = fullName
        var byNumber: [Int32: String] = [:]
        var byName: [String: Int32] = [:]
        for v in values {
            if byNumber[v.number] == nil { byNumber[v.number] = v.name }
            byName[v.name] = v.number
        }
        self.nameByNumber = byNumber
        self.numberByName = byName
    }

    /// `google.protobuf.NullValue`, which maps to JSON `null`.
    var isNullValue: Bool { fullName == "google.protobuf.NullValue" }
}
