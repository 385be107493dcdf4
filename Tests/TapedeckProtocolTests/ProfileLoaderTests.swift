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

extension ProfileLoaderTests {
    @Test func timerNamesAndKeysAreChecked() {
        let text = """
            profile: timers
            endpoints: [/ws]
            timers:
              idle: { after: 10s, then: { close: { code: 4000 } } }
              bad name: { after: 1s }
              never: { then: { reply: x } }
            on:
              - when: { type: hi }
                start_timer: idel
            subscriptions: { deliver: sometimes }
            """
        do {
            _ = try ProfileLoader().load(text: text, file: "t.yaml")
            Issue.record("expected errors")
        } catch {
            let m = error.errors.map(\.description)
            #expect(m.contains { $0.hasPrefix("t.yaml:5:3: a timer name is letters, digits") })
            #expect(m.contains { $0.hasPrefix("t.yaml:6:10: timer 'never' needs 'after'") })
            #expect(m.contains { $0.hasPrefix("t.yaml:8:5: unknown timer 'idel'; did you mean 'idle'?") })
            #expect(m.contains { $0.contains("unknown 'deliver' 'sometimes'") })
        }
    }

    @Test func timersStartResetAndFireFromRules() throws {
        let text = """
            profile: idle
            endpoints: [/ws]
            timers:
              idle:
                after: 5s
                on_connect: true
                reset_on: { type: activity }
                then:
                  replies: "{{ [{type: 'warn', n: timer.fired}, {type: 'bye'}] }}"
                  close: { code: 4000, reason: idle }
              reminder:
                every: 2s
                then: { reply: { type: remind, n: "{{ timer.fired }}" } }
            on:
              - when: { type: remind_me }
                start_timer: reminder
              - when: { type: stop }
                cancel_timer: [reminder]
              - when: { type: activity }
            """
        let p = try ProfileLoader().load(text: text, file: "idle.yaml")
        var e = ConnectionEngine(profile: p, conn: [:], entities: [:], settings: [:], now: 0)
        _ = e.start(wallTime: 0)
        #expect(e.nextTickTime == 5)
        _ = e.receive(.message(["type": "activity"], raw: ""), now: 4, wallTime: 0)
        #expect(e.nextTickTime == 9)
        _ = e.receive(.message(["type": "remind_me"], raw: ""), now: 4, wallTime: 0)
        #expect(e.nextTickTime == 6)
        #expect(e.tick(now: 6, wallTime: 0) == [.send(["type": "remind", "n": 1])])
        #expect(e.tick(now: 8, wallTime: 0) == [.send(["type": "remind", "n": 2])])
        _ = e.receive(.message(["type": "stop"], raw: ""), now: 8.5, wallTime: 0)
        // `replies`: one frame per item.
        #expect(e.tick(now: 9, wallTime: 0) == [.send(["type": "warn", "n": 1]), .send(["type": "bye"]), .close(code: 4000, reason: "idle")])
        #expect(e.nextTickTime == nil)
    }
}

extension ProfileLoaderTests {
    @Test func anEnvelopeThatReadsTheConnectionIsRenderedPerConnection() throws {
        let text = """
            profile: personal
            endpoints: [/ws]
            envelope: { to: "{{ conn.user }}", text: "{{ event.text }}" }
            """
        let p = try ProfileLoader().load(text: text, file: "p.yaml")
        #expect(p.rendersPerSubscription)
        var e = ConnectionEngine(profile: p, conn: ["user": "ada"], entities: [:], settings: [:], now: 0)
        let (frames, log) = e.deliveries(event: ["text": "hi"], topic: nil, wallTime: 0)
        #expect(log.isEmpty)
        #expect(frames.map(\.message) == [["to": "ada", "text": "hi"]])
        #expect(!(try ProfileLoader().load("ops-control-center").rendersPerSubscription))
    }
}
