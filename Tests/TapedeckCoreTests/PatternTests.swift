import Testing
import TapedeckCore

@Suite("Patterns")
struct PatternTests {
    let incident: Value = ["type": "incident", "data": ["squad": "platform", "severity": "high", "tags": ["a", "b"], "n": 5]]

    @Test func partialObjectsMatch() {
        #expect(Pattern(["type": "incident"]).matches(incident))
        #expect(Pattern(["data": ["squad": "platform"]]).matches(incident))
        #expect(!Pattern(["data": ["squad": "payments"]]).matches(incident))
        #expect(!Pattern(["missing": 1]).matches(incident))
        #expect(!Pattern(["type": "incident"]).matches("incident"))
    }

    @Test func operators() {
        #expect(Pattern(["data": ["squad": ["not": "payments"]]]).matches(incident))
        #expect(Pattern(["data": ["severity": ["in": ["high", "critical"]]]]).matches(incident))
        #expect(Pattern(["data": ["n": ["gte": 5, "lt": 6]]]).matches(incident))
        #expect(!Pattern(["data": ["n": ["gt": 5]]]).matches(incident))
        #expect(Pattern(["data": ["tags": ["contains": "b"]]]).matches(incident))
        #expect(Pattern(["data": ["missing": ["exists": false]]]).matches(incident))
        #expect(Pattern(["data": ["squad": ["$type": "string"]]]).matches(incident))
        #expect(Pattern(["type": ["any": ["alert", "incident"]]]).matches(incident))
        #expect(Pattern(["data": ["squad": ["$prefix": "plat"]]]).matches(incident))
    }

    @Test func listsMatchElementWise() {
        #expect(Pattern(["data": ["tags": ["a", "b"]]]).matches(incident))
        #expect(!Pattern(["data": ["tags": ["a"]]]).matches(incident))
    }
}
