import TapedeckCore
import Testing

@Suite struct JSONPathSetTests {
    func covered(_ paths: [String], _ location: [ValuePath.Component]) throws -> Bool {
        let set = JSONPathSet(try paths.map { try JSONPath(parsing: $0) })
        var state = set.root
        for c in location { state = set.child(state, c) }
        return state.isCovered
    }

    @Test func theIncrementalMatchAgreesWithCovers() throws {
        let paths = ["$.timestamp", "$..updated_at", "$.logs[*].id", "$.data.meta", "$.list[1]"]
        let locations: [[ValuePath.Component]] = [
            [.key("timestamp")], [.key("data"), .key("timestamp")], [.key("a"), .key("b"), .key("updated_at")],
            [.key("logs"), .index(3), .key("id")], [.key("logs"), .index(3), .key("msg")], [.key("data"), .key("meta"), .key("x")],
            [.key("data")], [.key("list"), .index(1)], [.key("list"), .index(2)], [.key("updated_at"), .key("deeper")],
        ]
        for location in locations {
            let expected = try paths.contains { try JSONPath(parsing: $0).covers(ValuePath(components: location)) }
            #expect(try covered(paths, location) == expected, "\(ValuePath(components: location))")
        }
        #expect(try covered(paths, [.key("data"), .key("meta"), .key("x")]))
        #expect(try !covered(paths, [.key("data"), .key("timestamp")]))
        #expect(try covered(["$"], []))
    }
}
