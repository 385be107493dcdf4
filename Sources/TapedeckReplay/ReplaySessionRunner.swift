import NIOCore
import NIOWebSocket
import TapedeckCore
import TapedeckRecording

/// What reaches a running replay session: frames from the socket, the socket closing, its timer, a stop.
enum ReplayInput: Sendable {
    case frame(opcode: FrameOpcode, fin: Bool, payload: [UInt8])
    case disconnected
    case timer(UInt64)
    case stop
}

/// Records what a session sends and receives (as-client replay writes it to `--out`).
typealias ReplayFrameTap = @Sendable (FrameDirection, FrameOpcode, Bool, [UInt8]) async -> Void

/// Runs one `ReplayStateMachine` over one upgraded channel: performs its actions, feeds it the live
/// frames (fragments joined) and the timer. Used by one task only.
final class ReplaySessionRunner {
    private var machine: ReplayStateMachine
    private let channel: any Channel
    private let clock: any SimulationClock
    private let inputs: AsyncStream<ReplayInput>
    private let continuation: AsyncStream<ReplayInput>.Continuation
    /// Client frames are masked.
    private let mask: Bool
    private let ownDirection: FrameDirection
    private let onEvent: @Sendable (ReplayEvent) -> Void
    private let tap: ReplayFrameTap?
    private var timer: Task<Void, Never>?
    private var generation: UInt64 = 0
    private var fragments: (opcode: FrameOpcode, payload: [UInt8])?
    private(set) var framesSent = 0
    private(set) var messagesReceived = 0

    init(
        machine: ReplayStateMachine, channel: any Channel, clock: any SimulationClock,
        inputs: AsyncStream<ReplayInput>, continuation: AsyncStream<ReplayInput>.Continuation, mask: Bool,
        onEvent: @escaping @Sendable (ReplayEvent) -> Void, tap: ReplayFrameTap? = nil
    ) {
        self.machine = machine
        self.channel = channel
        self.clock = clock
        self.inputs = inputs
        self.continuation = continuation
        self.mask = mask
        self.ownDirection = mask ? .clientToServer : .serverToClient
        self.onEvent = onEvent
        self.tap = tap
    }

    /// Plays the connection to its end and closes the channel.
    func run() async -> ReplayOutcome {
        var outcome = await perform(machine.start(now: clock.elapsed))
        var iterator = inputs.makeAsyncIterator()
        while outcome == nil, let input = await iterator.next() {
            let now = clock.elapsed
            let actions: [ReplayAction]
            switch input {
            case .frame(let opcode, let fin, let payload):
                await tap?(ownDirection == .clientToServer ? .serverToClient : .clientToServer, opcode, fin, payload)
                guard let message = assemble(opcode: opcode, fin: fin, payload: payload) else { continue }
                messagesReceived += 1
                actions = machine.received(message, now: now)
            case .disconnected:
                actions = machine.peerDisconnected(now: now)
            case .timer(let g):
                guard g == generation else { continue }
                actions = machine.deadlineReached(now: now)
            case .stop:
                actions = machine.stop()
            }
            outcome = await perform(actions)
        }
        timer?.cancel()
        continuation.finish()
        try? await channel.close()
        return outcome ?? .stopped
    }

    private func assemble(opcode: FrameOpcode, fin: Bool, payload: [UInt8]) -> ScriptMessage? {
        switch opcode {
        case .ping, .pong, .close:
            return ScriptMessage(opcode: opcode, payload: payload)
        case .text, .binary:
            if fin { return ScriptMessage(opcode: opcode, payload: payload) }
            fragments = (opcode, payload)
            return nil
        case .continuation:
            guard var held = fragments else { return nil }
            held.payload += payload
            if fin {
                fragments = nil
                return ScriptMessage(opcode: held.opcode, payload: held.payload)
            }
            fragments = held
            return nil
        }
    }

    private func perform(_ actions: [ReplayAction]) async -> ReplayOutcome? {
        for action in actions {
            switch action {
            case .send(let frame):
                await write(frame)
            case .sendPong(let payload):
                await write(ScriptFrame(opcode: .pong, payload: payload))
            case .close(let code, let reason):
                await write(ScriptFrame(opcode: .close, payload: [UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)] + Array(reason.utf8)))
            case .wait(let deadline):
                timer?.cancel()
                generation += 1
                if let deadline {
                    let g = generation
                    let clock = clock
                    let continuation = continuation
                    timer = Task {
                        do {
                            try await clock.sleep(until: deadline)
                            continuation.yield(.timer(g))
                        } catch {}
                    }
                }
            case .report(let event):
                onEvent(event)
            case .finish(let outcome):
                return outcome
            }
        }
        return nil
    }

    private func write(_ frame: ScriptFrame) async {
        let opcode: WebSocketOpcode =
            switch frame.opcode {
            case .text: .text
            case .binary: .binary
            case .continuation: .continuation
            case .ping: .ping
            case .pong: .pong
            case .close: .connectionClose
            }
        let out = WebSocketFrame(
            fin: frame.fin, opcode: opcode, maskKey: mask ? .random() : nil, data: ByteBuffer(bytes: frame.payload))
        do {
            try await channel.writeAndFlush(out)
            framesSent += 1
            await tap?(ownDirection, frame.opcode, frame.fin, frame.payload)
        } catch {
            // The socket is gone; the handler reports `.disconnected`.
        }
    }

    /// Asks the session to stop (Ctrl-C).
    static func stop(_ continuation: AsyncStream<ReplayInput>.Continuation) {
        continuation.yield(.stop)
    }
}
