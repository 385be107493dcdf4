public import TapedeckCore
public import TapedeckRecording

/// Something the replay of one connection must do now.
public enum ReplayAction: Sendable, Hashable {
    /// Send this recorded frame, byte for byte.
    case send(ScriptFrame)
    /// Answer a live ping the recording does not cover.
    case sendPong([UInt8])
    /// Nothing to do until `until` (a clock reading) or until the peer sends something; `nil`: only the peer.
    case wait(until: Duration?)
    /// Tell the user.
    case report(ReplayEvent)
    /// Send a close frame with this code and reason (not a recorded one).
    case close(code: Int, reason: String)
    /// The replay of this connection is over: flush and close the socket.
    case finish(ReplayOutcome)
}

/// What happened during a replay, for logs and diagnostics.
public enum ReplayEvent: Sendable, Hashable {
    /// A live message matched the recorded message at `step`.
    case matched(step: Int, ScriptMessage)
    /// A live message did not match the recorded message the replay waits for.
    case mismatch(step: Int?, expected: ScriptMessage?, actual: ScriptMessage, ReplayDifference)
    /// A live message arrived that the replay does not wait for (timed mode).
    case received(ScriptMessage)
    /// An awaited message did not come in time.
    case timedOut(step: Int, expected: ScriptMessage, after: Duration)
    /// The peer sent a close frame; `early` when the recording still had frames to exchange.
    case peerClosed(code: Int?, reason: String?, early: Bool)
    /// The peer's socket closed without a close handshake.
    case peerDisconnected
}

/// How the replay of one connection ended.
public enum ReplayOutcome: Sendable, Hashable {
    /// Every recorded frame was exchanged.
    case completed
    /// The peer left before the recording was over.
    case peerLeft
    /// The live peer deviated from the recording and the replay stopped (a mismatch with
    /// `--on-mismatch close`, or an awaited message that never came).
    case deviated(String)
    /// The replay was stopped from outside (Ctrl-C).
    case stopped
}

/// The replay of one recorded connection, as a pure state machine: it is fed the clock's readings and
/// the live peer's messages and returns what to do. It never sleeps and owns no socket, so tests drive
/// it directly (like swift-websocket's `WebSocketStateMachine`).
///
/// Frames of this side go out in recorded order at `anchor + (recorded offset - anchor offset) / speed`;
/// in reactive mode each awaited peer message re-anchors the timing at the moment it arrived.
public struct ReplayStateMachine: Sendable {
    public let script: ReplayScript
    public let configuration: ReplayConfiguration
    let matcher: any ReplayMatcher
    let decoder: RecordingFrameDecoder

    private var next = 0
    private var consumed: [Bool]
    private var anchor: (recorded: Int64, live: Duration) = (0, .zero)
    private var blockedSince: Duration?
    private var ownCloseSent = false
    private var finished = false
    private var started = false
    /// The peer closed as recorded: the rest goes out at once.
    private var closing = false

    /// - Parameters:
    ///   - decoder: turns a payload into a value for matching (JSON text, a profile's codec).
    public init(
        script: ReplayScript, configuration: ReplayConfiguration, matcher: any ReplayMatcher,
        decoder: @escaping RecordingFrameDecoder = RecordingConfiguration.jsonTextDecoder
    ) {
        self.script = script
        self.configuration = configuration
        self.matcher = matcher
        self.decoder = decoder
        self.consumed = Array(repeating: false, count: script.steps.count)
    }

    /// Whether the replay of this connection is over.
    public var isFinished: Bool { finished }

    /// Index of the next step (for progress displays).
    public var position: Int { next }

    /// Starts the replay at clock reading `now`.
    public mutating func start(now: Duration) -> [ReplayAction] {
        guard !started else { return [] }
        started = true
        anchor = (script.openedOffsetNanos, now)
        return advance(now: now)
    }

    /// The deadline of the last `.wait` was reached.
    public mutating func deadlineReached(now: Duration) -> [ReplayAction] {
        guard started, !finished else { return [] }
        return advance(now: now)
    }

    /// The live peer sent a whole message (fragments joined) or a control frame.
    public mutating func received(_ message: ScriptMessage, now: Duration) -> [ReplayAction] {
        guard started, !finished else { return [] }
        switch message.opcode {
        case .ping:
            if let i = pendingControl(.ping) {
                consumed[i] = true
                return advance(now: now)
            }
            return [.sendPong(message.payload)] + advance(now: now)
        case .pong:
            if let i = pendingControl(.pong) { consumed[i] = true }
            return advance(now: now)
        case .close:
            return peerClose(message, now: now)
        case .text, .binary, .continuation:
            break
        }
        guard configuration.mode == .reactive else {
            return [.report(.received(message))] + advance(now: now)
        }
        guard let target = firstAwaited(), case .peer(let expected, let offset) = script.steps[target], expected.opcode != .close else {
            let difference = ReplayDifference(path: "$", expected: "no message (the recording has none here)", actual: message.preview)
            return mismatch(step: nil, expected: nil, actual: withDecoded(message), difference, now: now)
        }
        guard let difference = difference(expected: expected, actual: message) else {
            return matched(target, offset: offset, message, now: now)
        }
        // Messages of one burst (no frame of ours between them) may arrive in another order.
        for later in burst(after: target) {
            guard case .peer(let candidate, let laterOffset) = script.steps[later], candidate.opcode != .close else { continue }
            if self.difference(expected: candidate, actual: message) == nil {
                return matched(later, offset: laterOffset, message, now: now)
            }
        }
        return mismatch(step: target, expected: withDecoded(expected), actual: withDecoded(message), difference, now: now)
    }

    private mutating func matched(_ step: Int, offset: Int64, _ message: ScriptMessage, now: Duration) -> [ReplayAction] {
        consumed[step] = true
        if step == next {
            anchor = (offset, now)
            blockedSince = nil
        }
        return [.report(.matched(step: step, message))] + advance(now: now)
    }

    /// The unconsumed awaited peer steps after `index` up to the next frame of ours.
    private func burst(after index: Int) -> [Int] {
        var out: [Int] = []
        var i = index + 1
        while i < script.steps.count {
            switch script.steps[i] {
            case .own: return out
            case .peer(let m, _):
                if !consumed[i] && isAwaited(m) { out.append(i) }
            }
            i += 1
        }
        return out
    }

    /// The peer's socket closed (with or without a close handshake).
    public mutating func peerDisconnected(now: Duration) -> [ReplayAction] {
        guard started, !finished else { return [] }
        finished = true
        return [.report(.peerDisconnected), .finish(remainingOwnData ? .peerLeft : .completed)]
    }

    /// Stops the replay from outside (Ctrl-C): a 1001 close unless this side has closed already.
    public mutating func stop() -> [ReplayAction] {
        guard !finished else { return [] }
        finished = true
        if ownCloseSent || !started { return [.finish(.stopped)] }
        ownCloseSent = true
        return [.close(code: 1001, reason: "tapedeck replay stopped"), .finish(.stopped)]
    }

    // MARK: - Internals

    private mutating func advance(now: Duration) -> [ReplayAction] {
        var actions: [ReplayAction] = []
        while !finished {
            guard next < script.steps.count else {
                finished = true
                actions.append(.finish(.completed))
                break
            }
            switch script.steps[next] {
            case .own(let frame, let offset):
                let due = anchor.live + configuration.speed.scale(nanos: offset - anchor.recorded)
                if due > now && !closing {
                    actions.append(.wait(until: due))
                    return actions
                }
                actions.append(.send(frame))
                if frame.opcode == .close { ownCloseSent = true }
                next += 1
            case .peer(let message, _):
                if consumed[next] || !isAwaited(message) {
                    next += 1
                    continue
                }
                let since = blockedSince ?? now
                blockedSince = since
                let timeout = ownCloseSent ? configuration.closeTimeout : configuration.peerTimeout
                guard let timeout else {
                    actions.append(.wait(until: nil))
                    return actions
                }
                if now >= since + timeout {
                    finished = true
                    if ownCloseSent && message.opcode == .close {
                        // The peer never answered our close: the exchange itself is complete.
                        actions.append(.finish(.completed))
                    } else {
                        let shown = withDecoded(message)
                        actions.append(.report(.timedOut(step: next, expected: shown, after: timeout)))
                        actions.append(.finish(.deviated("no \(message.opcode.rawValue) message matching \(shown.preview) within \(timeout)")))
                    }
                    return actions
                }
                actions.append(.wait(until: since + timeout))
                return actions
            }
        }
        return actions
    }

    private func isAwaited(_ message: ScriptMessage) -> Bool {
        guard configuration.mode == .reactive else { return false }
        switch message.opcode {
        case .text, .binary, .close, .continuation: return true
        case .ping, .pong: return false
        }
    }

    /// The first awaited peer step not yet consumed, at or after the cursor.
    private func firstAwaited() -> Int? {
        var i = next
        while i < script.steps.count {
            if case .peer(let m, _) = script.steps[i], !consumed[i], isAwaited(m) { return i }
            i += 1
        }
        return nil
    }

    /// An unconsumed recorded peer ping or pong before the next awaited peer message.
    private func pendingControl(_ opcode: FrameOpcode) -> Int? {
        var i = next
        while i < script.steps.count {
            if case .peer(let m, _) = script.steps[i] {
                if m.opcode == opcode && !consumed[i] { return i }
                if isAwaited(m) && !consumed[i] { return nil }
            }
            i += 1
        }
        return nil
    }

    private var remainingOwnData: Bool {
        script.steps[min(next, script.steps.count)...].contains { step in
            if case .own(let f, _) = step, f.opcode != .close { true } else { false }
        }
    }

    private mutating func peerClose(_ message: ScriptMessage, now: Duration) -> [ReplayAction] {
        let (code, reason) = ConnectionClose.parseClosePayload(message.payload)
        if configuration.mode == .reactive, let target = firstAwaited(), case .peer(let expected, let offset) = script.steps[target],
            expected.opcode == .close, !remainingOwnData(before: target)
        {
            // The close the recording waits for: go on (our recorded close answers it).
            consumed[target] = true
            if target == next {
                anchor = (offset, now)
                blockedSince = nil
            }
            // The close handshake is not a matter of timing: answer it at once.
            closing = true
            return [.report(.peerClosed(code: code, reason: reason, early: false))] + advance(now: now)
        }
        let early = remainingOwnData
        var actions: [ReplayAction] = [.report(.peerClosed(code: code, reason: reason, early: early))]
        finished = true
        if !ownCloseSent {
            ownCloseSent = true
            // Answer with the recorded close frame when there is one, else echo the peer's code.
            if let frame = script.steps[min(next, script.steps.count)...].lazy.compactMap({ step -> ScriptFrame? in
                if case .own(let f, _) = step, f.opcode == .close { f } else { nil }
            }).first {
                actions.append(.send(frame))
            } else {
                actions.append(.close(code: code ?? 1000, reason: ""))
            }
        }
        actions.append(.finish(early ? .peerLeft : .completed))
        return actions
    }

    private func remainingOwnData(before index: Int) -> Bool {
        script.steps[min(next, index)..<index].contains { step in
            if case .own(let f, _) = step, f.opcode != .close { true } else { false }
        }
    }

    private mutating func mismatch(
        step: Int?, expected: ScriptMessage?, actual: ScriptMessage, _ difference: ReplayDifference, now: Duration
    ) -> [ReplayAction] {
        var actions: [ReplayAction] = [.report(.mismatch(step: step, expected: expected, actual: actual, difference))]
        if configuration.onMismatch == .close {
            finished = true
            ownCloseSent = true
            let reason = "tapedeck replay: unexpected message (\(difference.path))"
            actions.append(.close(code: 1008, reason: String(reason.utf8.prefix(120)) ?? "tapedeck replay: unexpected message"))
            actions.append(.finish(.deviated("unexpected message \(difference)")))
            return actions
        }
        return actions + advance(now: now)
    }

    /// The message with its decoded value filled in (for readable diagnostics of binary messages).
    func withDecoded(_ message: ScriptMessage) -> ScriptMessage {
        guard message.decoded == nil, message.opcode == .text || message.opcode == .binary else { return message }
        var m = message
        m.decoded = decoder(message.opcode, message.payload)
        return m
    }

    /// The first difference between a recorded and a live message, or `nil` when they match.
    func difference(expected: ScriptMessage, actual: ScriptMessage) -> ReplayDifference? {
        guard expected.opcode == actual.opcode else {
            return ReplayDifference(path: "$", expected: "a \(expected.opcode.rawValue) message", actual: "a \(actual.opcode.rawValue) message: \(actual.preview)")
        }
        let e = expected.decoded ?? decoder(expected.opcode, expected.payload)
        let a = decoder(actual.opcode, actual.payload)
        switch (e, a) {
        case (let e?, let a?):
            return matcher.firstDifference(expected: e, actual: a)
        case (.some, .none), (.none, .some):
            return ReplayDifference(path: "$", expected: expected.preview, actual: actual.preview)
        case (.none, .none):
            if expected.opcode == .text {
                return matcher.firstDifference(
                    expected: .string(String(decoding: expected.payload, as: UTF8.self)),
                    actual: .string(String(decoding: actual.payload, as: UTF8.self)))
            }
            return expected.payload == actual.payload ? nil : ReplayDifference(path: "$", expected: expected.preview, actual: actual.preview)
        }
    }
}
