import TapedeckCore
import TapedeckDiff
import TapedeckProtocol
import Testing

@Suite struct DiffPresetTests {
    @Test func everyBuiltinProfileShipsADiffPreset() throws {
        #expect(!ProfileLoader.availableBuiltins.isEmpty)
        for name in ProfileLoader.availableBuiltins {
            let profile = try ProfileLoader().load(name)
            // An echo sends nothing of its own: nothing volatile to ignore, no kinds of message.
            if profile.codec == .raw { continue }
            #expect(!profile.diff.ignore.isEmpty, "\(name) has no diff.ignore")
            #expect(!profile.diff.key.isEmpty, "\(name) has no diff.key")
            _ = try DiffRules(preset: profile.diff)
        }
    }

    @Test func aRulesFileReadsTheSameKeysAsAProfileSection() throws {
        let text = """
            key: [type, { member_of: $.payload, except: [id] }]
            ignore: [$.timestamp, data.id]
            ignore_values: ['[0-9]+ms']
            """
        let preset = try ProfileLoader().loadDiffPreset(text: text, file: ".tapedeck-diff.yaml")
        #expect(preset.ignore.map(\.description) == ["$.timestamp", "$.data.id"])
        #expect(preset.ignoreValues == ["[0-9]+ms"])
        let rules = try DiffRules(preset: preset)
        #expect(rules.key(of: ["type": "t", "payload": ["id": 1, "moved": [:]]]) == "t/moved")
    }

    @Test func aBadRuleInAFileNamesTheLine() throws {
        do {
            _ = try ProfileLoader().loadDiffPreset(text: "ignore:\n  - $.ok\n  - $.bad[\n", file: "rules.yaml")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("rules.yaml:3"))
        }
        #expect(throws: (any Error).self) { try ProfileLoader().loadDiffPreset(text: "ignore_values: ['([']", file: "r.yaml") }
        #expect(throws: (any Error).self) { try ProfileLoader().loadDiffPreset(text: "ignored: [$.a]", file: "r.yaml") }
    }
}
