import TapedeckCore
import TapedeckDiff
import TapedeckProtocol
import Testing

@Suite struct StructuralComparisonTests {
    func diff(_ e: String, _ a: String, _ rules: DiffRules = DiffRules()) throws -> [ValueDifference] {
        differences(expected: try Value(json: e), actual: try Value(json: a), rules: rules)
    }

    @Test func equalValuesHaveNoDifferenceWhateverTheKeyOrder() throws {
        #expect(try diff(#"{"a":1,"b":{"c":[1,2]}}"#, #"{"b":{"c":[1,2.0]},"a":1.0}"#).isEmpty)
    }

    @Test func aChangedValueIsReportedAtItsPathWithBothValues() throws {
        let found = try diff(#"{"data":{"status":"open"}}"#, #"{"data":{"status":"closed"}}"#)
        #expect(found == [ValueDifference(path: ValuePath(components: [.key("data"), .key("status")]), kind: .changed, expected: "open", actual: "closed")])
        #expect(found.first?.description == #"$.data.status: changed "open" -> "closed""#)
    }

    @Test func addedAndRemovedFieldsAndListElements() throws {
        let found = try diff(#"{"a":1,"list":[1,2,3]}"#, #"{"b":2,"list":[1,2]}"#)
        #expect(found.map(\.path.description) == ["$.a", "$.list[2]", "$.b"])
        #expect(found.map(\.kind) == [.removed, .removed, .added])
        #expect(found.last?.actual == 2 && found.last?.expected == nil)
    }

    @Test func aChangedKindIsATypeChange() throws {
        let found = try diff(#"{"n":1,"o":{"x":1}}"#, #"{"n":"1","o":null}"#)
        #expect(found.map(\.kind) == [.typeChanged, .typeChanged])
        #expect(found.first?.description.contains("integer 1 -> string \"1\"") == true)
    }

    @Test func ignoredPathsCoverTheirSubtreeAtAnyDepthAndInLists() throws {
        var rules = DiffRules()
        try rules.add(ignore: "$.timestamp")
        try rules.add(ignore: "$..updated_at")
        try rules.add(ignore: "$.logs[*].id")
        try rules.add(ignore: "$.data.meta")
        let e = #"{"timestamp":1,"data":{"updated_at":"x","meta":{"a":1},"v":1},"logs":[{"id":"a","m":1}]}"#
        let a = #"{"timestamp":2,"data":{"updated_at":"y","meta":{"b":2},"v":1},"logs":[{"id":"b","m":1}],"extra":true}"#
        #expect(try diff(e, a, rules).map(\.path.description) == ["$.extra"])
        // Without the rules, each of those is a difference.
        #expect(try diff(e, a).count == 6)
    }

    @Test func valuePatternsMakeTwoMatchingValuesEqualButNotOthers() throws {
        var rules = DiffRules()
        try rules.add(ignore: "uuid")
        try rules.add(ignore: "re:tok-[0-9]+")
        let e = #"{"id":"c5ea14a7-7322-469d-a1d0-d1a6f135d725","t":"tok-1","s":"tok-1"}"#
        let a = #"{"id":"872fc0af-9179-4142-8abc-a7d025af59ec","t":"tok-22","s":"nope"}"#
        #expect(try diff(e, a, rules).map(\.path.description) == ["$.s"])
    }

    @Test func badRulesAreErrorsThatSayWhy() {
        var rules = DiffRules()
        #expect(throws: DiffError.self) { try rules.add(ignore: "$.a[") }
        #expect(throws: DiffError.self) { try rules.add(ignore: "re:([") }
        do {
            try rules.add(ignore: "timestamp")
            Issue.record("a bare word that is no named pattern must fail")
        } catch {
            #expect(error.description.contains("JSON path"))
        }
    }

    @Test func textAndBinaryBodiesCompareAsAWhole() {
        let rules = DiffRules()
        #expect(differences(expected: .text("hi"), actual: .text("hi"), rules: rules).isEmpty)
        #expect(differences(expected: .text("hi"), actual: .text("ho"), rules: rules).map(\.kind) == [.changed])
        #expect(differences(expected: .binary([1, 2]), actual: .binary([1, 3]), rules: rules).map(\.kind) == [.changed])
        #expect(differences(expected: .value(["a": 1]), actual: .text("a"), rules: rules).map(\.kind) == [.typeChanged])
    }

    @Test func theMessageKeyComesFromTheRulesOrTypeActionEvent() throws {
        let rules = DiffRules()
        #expect(rules.key(of: ["type": "incident", "action": "created", "data": [:]]) == "incident/created")
        #expect(rules.key(of: ["event": "tick"]) == "tick")
        #expect(rules.key(of: ["x": 1]) == nil)
        let oneof = DiffRules(messageKey: [.memberName(of: "$", except: ["messageId", "timestamp"])])
        #expect(oneof.key(of: ["messageId": "m1", "timestamp": "1", "ping": [:]]) == "ping")
    }

    @Test func pathsPrintAsJSONPaths() {
        let p = ValuePath.root.appending(key: "logs").appending(index: 2).appending(key: "a key")
        #expect(p.description == "$.logs[2]['a key']")
    }
}
