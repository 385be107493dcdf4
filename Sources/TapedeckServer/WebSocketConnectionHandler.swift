import Logging
import NIOCore
import NIOWebSocket
import OrderedCollections
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario
import TapedeckCompression
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one WebSocket connection on its channel's event loop: reads client frames into the
/// engine, writes replies and events, keeps the heartbeat, and does the close handshake.
///
/// Everything about the connection happens on its event loop, in order: the engine's decisions
/// and the writes they cause, so a reply is never overtaken by an event the same client message
/// let through. Frames go straight to the socket while the channel is writable and wait in the
/// bounded ``OutboundQueue`` while it is not; the queue drains when the channel becomes writable
/// again. Writes are flushed once per client message, per batch of events or per drain. Replies
/// and pongs wait there too, bounded: a client that keeps asking and never reads is closed with
/// 1008 once they are over the bound.
///
/// Every close the server starts is bounded in time: once it has decided to close (its close
/// queued, or written), the client has the close timeout to take it and answer; then the TCP
/// connection is dropped, whether or not the close could even be written.
///
/// Server frames are written as complete wire bytes (``OutboundFrame``) past NIO's frame encoder,
/// so an event's one `ByteBuffer` is shared by every connection. Client frames come from NIO's
/// `WebSocketFrameDecoder`; this handler checks what the decoder does not (masking, reserved bits,
/// opcodes, fragments, UTF-8, message size) and closes with 1002, 1007 or 1009 as RFC 6455 says.
final class WebSocketConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame

    /// What the upgrade decided for this connection.
    struct Setup: Sendable {
        var id: Int
        var profileName: String
        var engine: ConnectionEngine
        var codec: FrameCodec
        var queueCapacity: Int
        var tagCapacity: Int?
        var warning: OutboundQueue.Warning?
        var ownsTimeline: Bool
        var peer: String
        var path: String
        var query: String?
        var headers: [(name: String, value: String)]
        /// The subprotocol selected from the client's offer, answered in the 101 response.
        var subprotocol: String? = nil
        /// permessage-deflate as agreed in the 101 response (`nil`: uncompressed).
        var deflate: DeflateAgreement? = nil
    }

    /// The server's parts every connection uses.
    struct Services: Sendable {
        var hub: Hub
        var scheduler: Scheduler
        var configuration: SimulatorConfiguration
        var clock: any SimulationClock
        var logger: Logger
        var tap: (any SimulatorTap)?
        var probe: SimulatorProbe?
        /// Pause, resume and speed of the timelines (the control API's).
        var control: TimelineControl
        /// The server's Prometheus metrics.
        var metrics: ServerMetrics
        /// When set, frames go to the tap only while it records (the tap is the control API's recording alone).
        var tapSwitch: RecordingControl? = nil
    }

    private enum Phase {
        /// Messages and events flow.
        case open
        /// A close waits in the queue behind frames the client has not taken yet.
        case closeQueued
        /// The server's close is written; waiting for the client's (bounded) or the socket's end.
        case closeSent
        case closed
    }

    private let setup: Setup
    private let services: Services
    private let logger: Logger
    /// The scenarios' faults that a client message sets off (`on_message`); usually none.
    private let triggers: [ScheduledFault]
    private var engine: ConnectionEngine
    private var queue: OutboundQueue
    private var connection: SimulatorConnection?
    private var context: ChannelHandlerContext?
    /// The frame encoder's context: writing through it skips the encoder, so the complete frames
    /// of ``OutboundFrame`` go to the socket as they are.
    private var wire: ChannelHandlerContext?
    private var phase = Phase.open
    /// A fragmented message being assembled, and whether it is compressed (RSV1 on its first frame).
    private var message: (opcode: WebSocketOpcode, data: ByteBuffer, compressed: Bool)?
    /// permessage-deflate, when agreed: this server's compressor and the client's decompressor.
    private let deflater: MessageDeflater?
    private let inflater: MessageInflater?
    private var serverClose: (code: Int, reason: String)?
    private var clientClose: (code: Int, reason: String)?
    private var needsFlush = false
    private var roomWaiters: [EventLoopPromise<Void>] = []
    /// At `--speed max`: this connection stopped reading for longer than the hub waits, so it no
    /// longer sets the pace; it gets events as at a fixed rate (the oldest dropped) until its queue empties.
    private var leftBehind = false
    private var tasks: [Task<Void, Never>] = []
    private var closeTimer: Scheduled<Void>?
    /// The task sleeping until the engine's next deadline, that deadline, and which task is current.
    private var tickTask: Task<Void, Never>?
    private var tickDeadline: Double?
    private var tickGeneration = 0
    private let tapFeed: TapFeed?
    /// Whether events are enveloped here, per subscription, rather than shared (``Profile/rendersPerSubscription``).
    private let perSubscription: Bool
    /// Counted here, on the event loop, and read by the control API by hopping to it.
    private var messagesSent = 0
    private var messagesReceived = 0
    private var bytesSent = 0
    private var eventsAccepted = 0
    /// The delivery class and the engine revision it was looked up at (see `deliveryClass()`).
    private var cachedDeliveryClass: (revision: Int, id: Int?)?
    /// The channel's writability, kept from its events (NIO reports a change as soon as a write
    /// crosses the high-water mark), so the writing path reads a flag instead of the channel.
    private var writable = false
    /// Messages and bytes written since the last report to the server's metrics (once per batch).
    private var unreportedMessages = 0
    private var unreportedBytes = 0
    private let connectedAt: Double
    /// A stall fault: nothing is written until the stall ends (frames wait in the queue).
    private var stalled = false
    private var stallGeneration = 0
    /// Faults on events (drop, duplicate, reorder, corrupt, delay) and what they hold back: `nil`
    /// while none is on and nothing is held, so that an event costs one optional check.
    private var faults: ConnectionFaults?
    /// The task sleeping until the delay line's first event is due, while there is one.
    private var delayTask: Task<Void, Never>?
    /// A bandwidth cap: frames wait in the queue and leave at its rate.
    private var pacer: BandwidthPacer?
    private var paceGeneration = 0
    private var paceWakePending = false
    private var paceTask: Task<Void, Never>?
    /// A read stall: the gate first in the pipeline that holds back reading.
    private var readGate: ReadGate?
    private var readStallGeneration = 0
    /// This profile's metrics, resolved once.
    private let profileMetrics: ServerMetrics.ProfileMetrics

    init(setup: Setup, services: Services) {
        self.setup = setup
        self.services = services
        self.engine = setup.engine
        self.perSubscription = setup.engine.profile.rendersPerSubscription
        self.queue = OutboundQueue(
            capacity: setup.queueCapacity, tagCapacity: setup.tagCapacity, warning: setup.warning,
            controlCapacity: services.configuration.replyQueueCapacity, controlBytes: services.configuration.replyQueueBytes)
        self.triggers = services.scheduler.triggeredFaults
        var logger = services.logger
        logger[metadataKey: "connection"] = "\(setup.id)"
        self.logger = logger
        self.tapFeed = services.tap.map { TapFeed(tap: $0, connection: setup.id, framesOnlyWhile: services.tapSwitch) }
        self.deflater = setup.deflate.flatMap { try? MessageDeflater($0, asServer: true) }
        self.inflater = setup.deflate.flatMap { _ in try? MessageInflater() }
        self.connectedAt = services.clock.wallTime
        self.profileMetrics = services.metrics.profile(setup.profileName)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
        wire = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        let hub = services.hub
        let connection = SimulatorConnection(
            id: setup.id, profileName: setup.profileName, path: setup.path, ownsTimeline: setup.ownsTimeline, clock: services.clock, handler: self,
            eventLoop: context.eventLoop)
        self.connection = connection
        guard hub.add(connection) else {
            sendCloseNow(code: 1001, reason: "server shutting down")
            return
        }
        profileMetrics.connected()
        if setup.deflate != nil && (deflater == nil || inflater == nil) {
            logger.error("permessage-deflate was agreed but zlib could not be set up")
            sendCloseNow(code: 1011, reason: "compression unavailable")
            return
        }
        logger.info(
            "connected",
            metadata: ["path": "\(setup.path)", "profile": "\(setup.profileName)", "peer": "\(setup.peer)", "user": "\(engine.conn["user"]?.plainText ?? "")"])
        tapFeed?.send(
            .opened(
                TappedConnection(
                    id: setup.id, path: setup.path, query: setup.query, headers: setup.headers, peer: setup.peer, profile: setup.profileName,
                    subprotocol: setup.subprotocol, extensions: setup.deflate?.headerValue)))
        // History is read and the initial subscriptions made on the event loop, before any event
        // the hub sends here: an event published meanwhile is in the history or delivered live.
        let past = hub.history.items(profile: setup.profileName, keys: engine.historyKeys)
        apply(engine.start(wallTime: services.clock.wallTime, history: past))
        flushIfNeeded()
        scheduleTick()
        if setup.ownsTimeline {
            connection.start.connected()
            let scheduler = services.scheduler, configuration = services.configuration
            tasks.append(Task {
                await connection.start.wait(scheduler.startPolicy, grace: configuration.startGrace)
                guard !Task.isCancelled else { return }
                await scheduler.run(for: connection)
            })
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard phase != .closed else { return }
        // Client frames must be masked; RSV1 marks a compressed message (on its first frame) when
        // permessage-deflate was agreed, and no extension uses RSV2 or RSV3.
        guard frame.maskKey != nil else { return protocolError(1002, "unmasked client frame") }
        guard !frame.rsv2 && !frame.rsv3 else { return protocolError(1002, "reserved bits set") }
        if frame.rsv1 {
            guard inflater != nil else { return protocolError(1002, "reserved bits set") }
            guard frame.opcode == .text || frame.opcode == .binary else {
                return protocolError(1002, "RSV1 on a frame that does not begin a message")
            }
        }
        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame.unmaskedData)
        case .ping:
            sendPong(frame.unmaskedData, allocator: context.channel.allocator)
        case .pong:
            break
        case .text, .binary:
            guard message == nil else { return protocolError(1002, "a new message began before the previous one ended") }
            let data = frame.unmaskedData
            guard data.readableBytes <= services.configuration.maxMessageSize else { return protocolError(1009, "message too big") }
            if frame.fin {
                received(frame.opcode, data, compressed: frame.rsv1)
            } else {
                message = (frame.opcode, data, frame.rsv1)
            }
        case .continuation:
            guard var m = message else { return protocolError(1002, "a continuation frame without a message") }
            var data = frame.unmaskedData
            guard m.data.readableBytes + data.readableBytes <= services.configuration.maxMessageSize else {
                return protocolError(1009, "message too big")
            }
            m.data.writeBuffer(&data)
            if frame.fin {
                message = nil
                received(m.opcode, m.data, compressed: m.compressed)
            } else {
                message = m
            }
        default:
            protocolError(1002, "unknown opcode")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { drain() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut its side without a close frame: the connection is over.
        if case .some(.inputClosed) = event as? ChannelEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength: protocolError(1009, "frame too big")
        case .some: protocolError(1002, "\(error)")
        case nil:
            logger.debug("connection error: \(error)")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        writable = false
        self.context = nil
        wire = nil
    }

    /// The socket is gone: stop the timers, leave the hub, tell the tap.
    private func finish() {
        guard phase != .closed else { return }
        phase = .closed
        closeTimer?.cancel()
        tickTask?.cancel()
        tickTask = nil
        for t in tasks { t.cancel() }
        tasks = []
        delayTask?.cancel()
        delayTask = nil
        paceTask?.cancel()
        paceTask = nil
        faults = nil
        queue.removeAll()
        resolveRoomWaiters()
        if let connection {
            services.hub.remove(connection)
            profileMetrics.disconnected()
        }
        connection = nil
        reportMetrics()
        logger.info("disconnected", metadata: ["dropped": "\(queue.droppedCount)"])
        tapFeed?.send(.closed(code: serverClose?.code, reason: serverClose?.reason))
        tapFeed?.finish()
    }

    // MARK: Client messages

    /// A whole client message: decoded, through the engine, replies written.
    private func received(_ opcode: WebSocketOpcode, _ data: ByteBuffer, compressed: Bool) {
        // Counted as handled however it ends (ignored while closing, refused as invalid UTF-8).
        defer { services.probe?.messageHandled() }
        guard phase == .open else { return }
        messagesReceived += 1
        profileMetrics.received()
        var data = data
        if compressed, let inflater, let context {
            // The size limit applies after decompression: a deflate bomb stops at the limit.
            do {
                data = try inflater.decompress(data, limit: services.configuration.maxMessageSize, allocator: context.channel.allocator)
            } catch {
                switch error {
                case .tooLarge: return protocolError(1009, "message too big (once decompressed)")
                case .corrupt: return protocolError(1007, "compressed data that does not inflate")
                }
            }
        }
        let decoded: InboundMessage
        if opcode == .text {
            guard let text = String(validating: data.readableBytesView, as: UTF8.self) else {
                return protocolError(1007, "invalid UTF-8 in a text message")
            }
            tapFeed?.send(.frame(fromClient: true, .text(text)))
            decoded = setup.codec.decode(text: text)
        } else {
            let bytes = Array(data.readableBytesView)
            tapFeed?.send(.frame(fromClient: true, .binary(bytes)))
            decoded = setup.codec.decode(binary: bytes)
        }
        let clock = services.clock
        apply(engine.receive(decoded, now: seconds(clock.elapsed), wallTime: clock.wallTime))
        if !triggers.isEmpty, case .message(let value, _) = decoded { fireTriggers(value) }
        flushIfNeeded()
        scheduleTick()
        // After the engine has handled it, so that a timeline it starts finds the subscription it made.
        services.hub.start.messageReceived()
        connection?.start.messageReceived()
    }

    /// Sets off the scenario faults whose `on_message` this client message matches, on this connection.
    private func fireTriggers(_ message: Value) {
        guard let connection else { return }
        let faults = services.scheduler.faults, logger = logger
        for fault in triggers where fault.isTriggered(by: message) {
            Task {
                do {
                    let done = try await faults.apply(fault.spec, only: connection)
                    logger.info("fault set off by a client message", metadata: ["fault": "\(done.jsonString)", "from": "\(fault.location)"])
                } catch {
                    logger.error("\(fault.location): fault not applied: \(error)")
                }
            }
        }
    }

    /// Carries out the engine's actions, in order.
    private func apply(_ actions: [EngineAction]) {
        for a in actions {
            switch a {
            case .send(let v):
                do {
                    send(OutboundFrame(try setup.codec.encode(v), allocator: context?.channel.allocator ?? ByteBufferAllocator()), event: nil)
                } catch {
                    logger.error("profile \(setup.profileName): cannot encode a reply: \(error)")
                }
            case .close(let code, let reason): close(code: code, reason: reason)
            case .log(let m): logger.warning("profile \(setup.profileName): \(m)")
            case .clearHistory(let key): services.hub.history.clear(profile: setup.profileName, key: key)
            }
        }
    }

    // MARK: Events from the hub

    func deliver(_ events: [PreparedEvent], mayDrop: Bool, flush: Bool, memo: DeliveryMemo? = nil) {
        guard phase == .open else { return }
        if perSubscription {
            for e in events { deliverPerSubscription(e, mayDrop: mayDrop) }
            if flush { flushIfNeeded() }
            return
        }
        let decided: [String?]? =
            if let memo, let id = deliveryClass() {
                memo.decisions(for: id) { events.map { engine.acceptingSubscription(event: $0.value, topic: $0.topic) } }
            } else {
                nil
            }
        for i in events.indices {
            let accepted = decided.map { $0[i] } ?? engine.acceptingSubscription(event: events[i].value, topic: events[i].topic)
            guard let key = accepted else { continue }
            eventsAccepted += 1
            send(events[i].frame, event: (key, mayDrop || leftBehind))
        }
        if flush { flushIfNeeded() }
    }

    /// This connection's delivery class (``DeliveryClasses``), looked up again only after the
    /// engine's identity or subscriptions changed; `nil` when its decisions are its own.
    private func deliveryClass() -> Int? {
        if let c = cachedDeliveryClass, c.revision == engine.deliveryRevision { return c.id }
        let id = engine.deliveryKey.map { services.hub.deliveryClasses.id(for: $0) }
        cachedDeliveryClass = (engine.deliveryRevision, id)
        return id
    }

    /// Delivers events as ``deliver(_:mayDrop:flush:)`` does; returns how many this connection accepted.
    func offer(_ events: [PreparedEvent]) -> Int {
        let before = eventsAccepted
        deliver(events, mayDrop: true, flush: true)
        return eventsAccepted - before
    }

    func flush() { flushIfNeeded() }

    /// An event whose frames this connection renders itself, one per subscription it is delivered
    /// under (the profile's envelope reads `sub`, or `subscriptions.end` ends subscriptions): each
    /// frame is tagged with its subscription, and an end message is never dropped.
    private func deliverPerSubscription(_ e: PreparedEvent, mayDrop: Bool) {
        let (deliveries, log) = engine.deliveries(event: e.value, topic: e.topic, wallTime: services.clock.wallTime)
        for line in log { logger.warning("profile \(setup.profileName): \(line)") }
        for d in deliveries {
            do {
                let frame = OutboundFrame(try setup.codec.encode(d.message), allocator: context?.channel.allocator ?? ByteBufferAllocator())
                eventsAccepted += 1
                send(frame, event: d.ends ? nil : (d.key, mayDrop))
            } catch {
                logger.error("profile \(setup.profileName): cannot encode an event: \(error)")
            }
        }
    }

    func roomFuture() -> EventLoopFuture<Void>? {
        guard phase == .open, !leftBehind, !queue.hasRoom(for: 1), let context else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        roomWaiters.append(promise)
        return promise.futureResult
    }

    /// The hub waited long enough for room here: if the queue is still full, stop setting the pace.
    func leaveBehindIfFull() {
        guard phase == .open, !leftBehind, !queue.hasRoom(for: 1) else { return }
        leftBehind = true
        logger.info("not reading: --speed max goes on without waiting for this connection (oldest events dropped until it catches up)")
        let waiters = roomWaiters
        roomWaiters = []
        for w in waiters { w.succeed() }
    }

    private func resolveRoomWaiters() {
        if leftBehind, queue.isEmpty {
            leftBehind = false
            logger.info("reading again: --speed max waits for this connection again", metadata: ["dropped": "\(queue.droppedCount)"])
        }
        guard !roomWaiters.isEmpty, phase != .open || queue.hasRoom(for: 1) else { return }
        let waiters = roomWaiters
        roomWaiters = []
        for w in waiters { w.succeed() }
    }

    // MARK: Writing

    /// Writes a frame now if nothing waits and the socket takes it, else queues it: an event
    /// (droppable, with its subscription's tag) or a reply (never dropped, but bounded).
    private func send(_ frame: OutboundFrame, event: (tag: String, mayDrop: Bool)?) {
        guard phase == .open else { return }
        // Faults on events, while one is on or holds an event: one optional check otherwise.
        if faults != nil, let event { return sendWithFaults(frame, tag: event.tag, mayDrop: event.mayDrop) }
        sendNow(frame, event: event)
    }

    /// Whether frames wait in the queue rather than go straight out (a write stall, a bandwidth
    /// cap): one flag for the writing path to check.
    private var writesHeld = false

    private func updateWritesHeld() { writesHeld = stalled || pacer != nil }

    private func sendNow(_ frame: OutboundFrame, event: (tag: String, mayDrop: Bool)?) {
        if queue.isEmpty, !writesHeld, writable {
            write(frame)
        } else if let event {
            if queue.pushEvent(frame, tag: event.tag, mayDrop: event.mayDrop) > 0 { services.metrics.dropped(profileMetrics) }
            if pacer != nil { pacedDrain() }
        } else {
            queueControl(frame)
            if pacer != nil { pacedDrain() }
        }
    }

    /// Under a bandwidth cap every frame goes through the queue: drains it unless a wake is due.
    private func pacedDrain() {
        guard !paceWakePending, !stalled else { return }
        drain()
    }

    /// An event while a fault on events is on (or holds one): dropped, corrupted, sent twice,
    /// held back for after the next one, or delayed, in that order.
    private func sendWithFaults(_ frame: OutboundFrame, tag: String, mayDrop: Bool) {
        // Mutated in place (`faults!`): a copy would copy the delay line at its next append.
        faults!.expire(now: services.clock.elapsed)
        defer { if faults?.isIdle == true { faults = nil } }
        if faults!.rollDrop() { return }
        var frame = frame
        if faults!.rollCorrupt() { frame = FrameCorruptor.corrupt(frame, allocator: context?.channel.allocator ?? ByteBufferAllocator()) }
        let copies = faults!.rollDuplicate() ? 2 : 1
        for _ in 0..<copies {
            let e = ConnectionFaults.Held(frame: frame, tag: tag, mayDrop: mayDrop)
            if faults?.held == nil, faults?.rollReorder() == true {
                faults?.held = e
                continue
            }
            sendDelayed(e)
            if let h = faults?.held {
                faults?.held = nil
                sendDelayed(h)
            }
        }
    }

    /// Sends an event now, or, while a delay is on or delayed events wait, at its time in the delay line.
    private func sendDelayed(_ e: ConnectionFaults.Held) {
        guard faults != nil, faults!.delay != nil || !faults!.delayed.isEmpty else {
            return sendNow(e.frame, event: (e.tag, e.mayDrop))
        }
        let due = faults!.due(now: services.clock.elapsed)
        // Bounded like the queue: past its capacity the oldest delayed event is dropped.
        if e.mayDrop, faults!.delayed.count >= queue.capacity {
            faults!.delayed.removeFirst()
            services.metrics.dropped(profileMetrics)
        }
        faults!.delayed.append((due, e))
        if delayTask == nil { startDelayTimer() }
    }

    /// Sleeps until the delay line's first event is due, sends what is due, and repeats while it holds events.
    private func startDelayTimer() {
        guard let first = faults?.delayed.first?.due, let context else { return }
        let clock = services.clock
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        delayTask = Task {
            var next = first
            while !Task.isCancelled {
                do { try await clock.sleep(until: next) } catch { return }
                guard let n = try? await loop.submit({ handler.value.releaseDelayed() }).get() else { return }
                next = n
            }
        }
    }

    /// Sends the delayed events that are due; returns when the next one is (`nil`: none waits).
    private func releaseDelayed() -> Duration? {
        guard phase == .open, faults != nil else {
            delayTask = nil
            return nil
        }
        let now = services.clock.elapsed
        while let first = faults?.delayed.first, first.due <= now {
            faults?.delayed.removeFirst()
            sendNow(first.event.frame, event: (first.event.tag, first.event.mayDrop))
        }
        flushIfNeeded()
        guard let next = faults?.delayed.first?.due else {
            delayTask = nil
            if faults?.isIdle == true { faults = nil }
            return nil
        }
        return next
    }

    /// Answers a ping: at once if nothing waits, else in the queue with the replies. While a close
    /// waits in the queue, nothing more is sent before it, and after it nothing is.
    private func sendPong(_ payload: ByteBuffer, allocator: ByteBufferAllocator) {
        guard phase == .open || phase == .closeQueued else { return }
        let pong = OutboundFrame(pong: payload, allocator: allocator)
        if queue.isEmpty, !writesHeld, writable {
            write(pong)
        } else if phase == .open {
            queueControl(pong)
            if pacer != nil { pacedDrain() }
        }
    }

    /// Queues a reply or a pong; over the queue's bound for them, the client is not reading what
    /// it asks for: the connection closes with 1008, dropping what waits.
    private func queueControl(_ frame: OutboundFrame) {
        guard !queue.pushControl(frame) else { return }
        logger.info(
            "closing a client that does not read its replies",
            metadata: ["queued": "\(queue.controlCount)", "bytes": "\(queue.controlByteCount)"])
        sendCloseNow(code: 1008, reason: "too many unread replies")
    }

    /// Closes with `code` once what is queued has been written (within the close timeout).
    func close(code: Int, reason: String) {
        guard phase == .open else { return }
        // An event a reorder holds back goes before the close (delayed events do not wait for it).
        if let held = faults?.held {
            faults?.held = nil
            sendNow(held.frame, event: (held.tag, held.mayDrop))
        }
        if queue.isEmpty, !writesHeld, writable {
            sendCloseNow(code: code, reason: reason)
        } else {
            queue.pushControl(OutboundFrame(.close(code: code, reason: reason)), bounded: false)
            phase = .closeQueued
            startCloseTimer()
            if pacer != nil { pacedDrain() }
        }
    }

    /// Writes queued frames while the socket takes them.
    private func drain() {
        while phase == .open || phase == .closeQueued, !stalled, writable {
            if pacer != nil, !paceAllows() { break }
            guard let frame = queue.pop() else { break }
            if case .close(let code, let reason) = frame.item {
                sendCloseNow(code: code, reason: reason)
                return
            }
            let bytes = write(frame)
            pacer?.wrote(bytes, now: services.clock.elapsed)
        }
        flushIfNeeded()
        resolveRoomWaiters()
    }

    /// Writes a frame; returns the bytes that went to the socket.
    @discardableResult
    private func write(_ frame: OutboundFrame) -> Int {
        var bytes = frame.wire.readableBytes
        if let deflater, let context, let opcode = frame.dataOpcode, deflater.shouldCompress(frame.payloadCount) {
            // Compressed per connection: with context takeover each connection's bytes differ.
            do {
                let compressed = try deflater.compress(frame.payload, allocator: context.channel.allocator)
                let wire = OutboundFrame.encode(opcode: opcode, rsv1: true, payloadCount: compressed.readableBytes, allocator: context.channel.allocator) {
                    var c = compressed
                    $0.writeBuffer(&c)
                }
                bytes = wire.readableBytes
                writeRaw(wire)
            } catch {
                logger.error("compression failed: \(error)")
                sendCloseNow(code: 1011, reason: "compression failed")
                return 0
            }
        } else {
            writeRaw(frame.wire)
        }
        if let item = frame.item { tapFeed?.sent(item) }
        return bytes
    }

    private func writeRaw(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        guard let wire else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if let probe = services.probe, let port = context?.channel.remoteAddress?.port { probe.wrote(bytes.readableBytes, toPeerPort: port) }
        messagesSent += 1
        bytesSent += bytes.readableBytes
        unreportedMessages += 1
        unreportedBytes += bytes.readableBytes
        wire.write(NIOAny(bytes), promise: promise)
        needsFlush = true
    }

    private func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        wire?.flush()
        reportMetrics()
    }

    /// Adds what was written since the last report to the server's metrics: two atomic adds per
    /// flush (a batch of events, a reply), not per message.
    private func reportMetrics() {
        guard unreportedMessages > 0 else { return }
        profileMetrics.wrote(messages: unreportedMessages, bytes: unreportedBytes)
        unreportedMessages = 0
        unreportedBytes = 0
    }

    // MARK: Closing

    /// Writes the server's close now. After a client's close (or a protocol error) the socket is
    /// closed once it is written; otherwise the client has the close timeout to answer. Either
    /// way the socket is closed after the close timeout: a client that does not read never lets
    /// the close be written.
    private func sendCloseNow(code: Int, reason: String, thenDisconnect: Bool = false) {
        guard phase != .closeSent, phase != .closed, let context else { return }
        phase = .closeSent
        serverClose = (code, reason)
        queue.removeAll()
        message = nil
        let frame = OutboundFrame(.close(code: code, reason: reason), allocator: context.channel.allocator)
        tapFeed?.sent(.close(code: code, reason: reason))
        let written = context.eventLoop.makePromise(of: Void.self)
        writeRaw(frame.wire, promise: written)
        flushIfNeeded()
        resolveRoomWaiters()
        if thenDisconnect || clientClose != nil {
            written.futureResult.whenComplete { _ in context.close(promise: nil) }
        }
        startCloseTimer()
    }

    /// Drops the TCP connection after the close timeout, unless it has closed by then.
    private func startCloseTimer() {
        guard let context else { return }
        closeTimer?.cancel()
        let timeout = services.configuration.closeTimeout
        let logger = logger
        closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            logger.debug("the close handshake did not finish within \(timeout); dropping the connection")
            context.close(promise: nil)
        }
    }

    /// The client's close: recorded (the tap sees its code and reason), and answered with 1000, or
    /// 1002 when its code may not be sent.
    private func receivedClose(_ payload: ByteBuffer) {
        var payload = payload
        var valid = true
        let code: Int
        var reason = ""
        switch payload.readableBytes {
        case 0:
            code = 1005
        case 1:
            code = 1005
            valid = false
        default:
            code = Int(payload.readInteger(as: UInt16.self) ?? 1005)
            if let r = String(validating: payload.readableBytesView, as: UTF8.self) { reason = r } else { valid = false }
            valid = valid && CloseCode.mayBeSent(code)
        }
        guard clientClose == nil else { return }
        clientClose = (code, reason)
        tapFeed?.send(.frame(fromClient: true, .close(code: code, reason: reason)))
        switch phase {
        case .closeSent:
            closeTimer?.cancel()
            context?.close(promise: nil)
        case .closed:
            break
        case .open, .closeQueued:
            phase = .open
            // 1000 to any close the peer may send, as the recorded sample sessions have it (RFC 6455
            // 5.5.1 allows echoing the code instead; that would change what those samples recorded).
            sendCloseNow(code: valid ? 1000 : 1002, reason: "")
        }
    }

    /// Closes with `code` (1002, 1007, 1009) at once, dropping what is queued, and then the socket.
    private func protocolError(_ code: Int, _ reason: String) {
        logger.debug("protocol error: \(reason)")
        message = nil
        switch phase {
        case .open, .closeQueued:
            phase = .open
            sendCloseNow(code: code, reason: "", thenDisconnect: true)
        case .closeSent:
            context?.close(promise: nil)
        case .closed:
            break
        }
    }

    // MARK: Timers

    /// Makes sure a task sleeps until the engine's next deadline (heartbeats and the profile's
    /// timers): none runs yet, or a client message or an action moved the deadline earlier (a
    /// started timer). Sleeps on the simulation clock, runs the tick on the event loop, and
    /// repeats: one timer task per connection, never a poll.
    private func scheduleTick() {
        guard phase == .open, let next = engine.nextTickTime, let context else { return }
        if let current = tickDeadline, current <= next { return }
        tickTask?.cancel()
        tickGeneration += 1
        tickDeadline = next
        let generation = tickGeneration
        let clock = services.clock
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        tickTask = Task {
            var deadline = next
            while !Task.isCancelled {
                // Rounded up to the next nanosecond, so that the tick finds it due.
                let at = Duration.nanoseconds(Int64((deadline * 1e9).rounded(.up)) + 1)
                do { try await clock.sleep(until: at) } catch { return }
                guard let (next, ranAt) = try? await loop.submit({ handler.value.tick(generation: generation) }).get() else { return }
                // Never a busy loop, whatever the arithmetic: at least a millisecond after the time
                // the tick ran at (not the clock's time now, which may have moved past `next`).
                deadline = Swift.max(next, ranAt + 0.001)
            }
        }
    }

    /// The engine's time-driven work; returns when it is next due and the time it ran at (`nil`:
    /// never, closed, or this task was replaced by one with an earlier deadline).
    private func tick(generation: Int) -> (next: Double, ranAt: Double)? {
        guard phase == .open, generation == tickGeneration else { return nil }
        let now = seconds(services.clock.elapsed)
        let next = runTick(now: now)
        tickDeadline = next
        return next.map { ($0, now) }
    }

    private func runTick(now: Double) -> Double? {
        let clock = services.clock
        let actions = engine.tick(now: now, wallTime: clock.wallTime)
        apply(actions)
        flushIfNeeded()
        if let reason = actions.lazy.compactMap({ if case .close(_, let r) = $0 { r } else { nil } }).first {
            logger.info("closed by a timer", metadata: ["reason": "\(reason)"])
            return nil
        }
        return engine.nextTickTime
    }
}

// MARK: Control

extension WebSocketConnectionHandler {
    /// What the control API shows of this connection. On the event loop.
    func snapshot() -> ConnectionSnapshot {
        var identity = engine.conn
        if case .object(var fields) = identity {
            fields["claims"] = nil
            identity = .object(fields)
        }
        return ConnectionSnapshot(
            id: setup.id, path: setup.path, profile: setup.profileName, peer: setup.peer, identity: identity,
            subscriptions: engine.subscriptions.values.map(\.value), queueDepth: queue.depth, dropped: queue.droppedCount,
            messagesSent: messagesSent, messagesReceived: messagesReceived, bytesSent: bytesSent, eventsAccepted: eventsAccepted,
            connectedAt: connectedAt, stalled: stalled, readStalled: readGate != nil)
    }

    /// An abrupt TCP reset: linger 0, then close, so the peer gets RST and no close frame.
    func reset() {
        guard phase != .closed, let context else { return }
        logger.info("fault: reset")
        let channel = context.channel
        guard let socket = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Writes nothing (`writing`) and reads nothing (`reading`) for `duration` of simulation time:
    /// frames wait in the queue (events beyond its capacity drop the oldest), the client's bytes
    /// in the TCP buffers; then both go on.
    func stall(for duration: Duration, reading: Bool, writing: Bool) {
        guard phase == .open || phase == .closeQueued, let context else { return }
        logger.info("fault: stall", metadata: ["for": "\(duration)", "reading": "\(reading)", "writing": "\(writing)"])
        let clock = services.clock
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        if writing {
            stalled = true
            updateWritesHeld()
            stallGeneration += 1
            let generation = stallGeneration
            tasks.append(Task {
                do { try await clock.sleep(for: duration) } catch { return }
                loop.execute { handler.value.endStall(generation: generation) }
            })
        }
        if reading {
            if readGate == nil {
                let gate = ReadGate()
                do { try context.pipeline.syncOperations.addHandler(gate, position: .first) } catch { return }
                gate.shut()
                readGate = gate
            }
            readStallGeneration += 1
            let generation = readStallGeneration
            tasks.append(Task {
                do { try await clock.sleep(for: duration) } catch { return }
                loop.execute { handler.value.endReadStall(generation: generation) }
            })
        }
    }

    private func endReadStall(generation: Int) {
        guard let gate = readGate, generation == readStallGeneration else { return }
        readGate = nil
        gate.open()
    }

    /// A fault on the events bound for this connection for `duration` of simulation time
    /// (seeded: the same connection id rolls the same way).
    func messageFault(_ fault: MessageFault, for duration: Duration) {
        guard phase == .open else { return }
        logger.info("fault: events", metadata: ["fault": "\(fault)", "for": "\(duration)"])
        if faults == nil { faults = ConnectionFaults(seed: UInt64(setup.id)) }
        faults?.add(fault, until: services.clock.elapsed + duration)
    }

    /// Paces writes to `bytesPerSecond` for `duration` of simulation time: frames wait in the
    /// queue (events beyond its capacity drop the oldest).
    func bandwidth(bytesPerSecond: Int, for duration: Duration) {
        guard phase == .open || phase == .closeQueued, let context else { return }
        logger.info("fault: bandwidth", metadata: ["bytes_per_second": "\(bytesPerSecond)", "for": "\(duration)"])
        let now = services.clock.elapsed
        pacer = BandwidthPacer(bytesPerSecond: bytesPerSecond, until: now + duration, now: now)
        updateWritesHeld()
        paceGeneration += 1
        let generation = paceGeneration
        let clock = services.clock
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        tasks.append(Task {
            do { try await clock.sleep(for: duration) } catch { return }
            loop.execute { handler.value.endBandwidth(generation: generation) }
        })
    }

    private func endBandwidth(generation: Int) {
        guard pacer != nil, generation == paceGeneration else { return }
        pacer = nil
        updateWritesHeld()
        drain()
    }

    /// Whether the bandwidth cap lets a frame go now; if not, a task wakes the drain when it does.
    private func paceAllows() -> Bool {
        guard let p = pacer else { return true }
        let now = services.clock.elapsed
        if now >= p.until {
            pacer = nil
            updateWritesHeld()
            return true
        }
        if p.allows(now: now) { return true }
        guard !paceWakePending, let context else { return false }
        paceWakePending = true
        let clock = services.clock
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let at = p.readyAt
        paceTask = Task {
            do { try await clock.sleep(until: at) } catch { return }
            loop.execute {
                handler.value.paceWakePending = false
                handler.value.drain()
            }
        }
        return false
    }

    private func endStall(generation: Int) {
        guard stalled, generation == stallGeneration else { return }
        stalled = false
        updateWritesHeld()
        drain()
    }
}
