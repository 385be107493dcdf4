import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol

@Suite("Profile loading")
struct ProfileLoaderTests {
    @Test func builtinOpsProfileLoads() throws {
        let p = try ProfileLoader().load("ops-control-center")
        #expect(p.endpoints.map(\.path) == ["/api/ws"])
        #expect(p.auth.credentials.count == 2)
        #expect(p.limits.inbound?.max == 100)
        #expect(p.limits.inbound?.per == 60)
    }

    @Test func unknownProfileNameSuggests() {
        do {
            _ = try ProfileLoader().load("ops-control-centre")
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.first?.message.contains("did you mean 'ops-control-center'?") == true)
        }
    }

    @Test func profileErrorsHaveLocations() {
        let text = """
            profile: broken
            endpoints: [/ws]
            envelope: { t: "{{ evnt.type }}" }
            on:
              - when: { type: ping }
                replay: { type: pong }
            """
        do {
            _ = try ProfileLoader().load(text: text, file: "p.yaml")
            Issue.record("expected errors")
        } catch {
            let m = error.errors.map(\.description)
            #expect(m.contains { $0.hasPrefix("p.yaml:3:20: unknown name 'evnt'; did you mean 'event'?") })
            #expect(m.contains("p.yaml:6:5: unknown key 'replay' in a rule; did you mean 'reply'?"))
        }
    }

    @Test func aUserProfileFileNeedsNoRecompiling() throws {
        let text = """
            profile: echo
            endpoints: [/echo]
            on:
              - when: { type: hello }
                reply: { type: hi, you: "{{ msg.name }}" }
            """
        let p = try ProfileLoader().load(text: text, file: "echo.yaml")
        var e = ConnectionEngine(profile: p, conn: [:], entities: [:], settings: [:], now: 0)
        #expect(e.receive(.message(["type": "hello", "name": "sam"], raw: ""), now: 0, wallTime: 0) == [.send(["type": "hi", "you": "sam"])])
    }
}
