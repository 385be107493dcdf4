import Histogram
import NIOCore
import NIOPosix
import Synchronization
import TapedeckCore

/// Runs a benchmark: opens the connections at the configured ramp on one event loop group, measures
/// for the configured duration, then closes them and reports.
///
/// Cancelling the task that runs it (Ctrl-C in `tapedeck bench`) ends the run early; the report then
/// covers what was measured so far and says it was interrupted.
public struct BenchRunner: Sendable {
    /// What to run.
    public let configuration: BenchConfiguration

    public init(configuration: BenchConfiguration) {
        self.configuration = configuration
    }

    /// What the connects have done so far; updated from the event loops.
    struct ConnectState {
        var pending = 0
        var open = 0
        var failed = 0
        var firstError: String?
        var connectTime = HistogramNanoseconds(lowestDiscernibleValue: 1_000, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        var channels: [any Channel] = []
    }

    /// The connect state, shared with the event loops' completion callbacks.
    final class SharedConnectState: Sendable {
        let state = Mutex(ConnectState())
    }

    /// Runs the benchmark; `progress` is called about once a second, on no particular thread.
    public func run(progress: @escaping @Sendable (BenchProgress) -> Void = { _ in }) async throws -> BenchReport {
        let config = configuration
        guard config.connections > 0 else { throw BenchError.invalidOption("--connections must be at least 1") }
        guard config.threads > 0 else { throw BenchError.invalidOption("--threads must be at least 1") }
        // Render every first message up front: a template error stops the run before it connects.
        var firstMessages: [String?] = []
        if config.send != nil {
            firstMessages.reserveCapacity(config.connections)
            for i in 0..<config.connections {
                do { firstMessages.append(try config.firstMessage(forConnection: i)) } catch {
                    throw BenchError.invalidOption("--send: \(error)")
                }
            }
        }

        let messagesToSend = firstMessages
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads)
        let loops = Array(group.makeIterator())
        let stats = loops.map { _ in LoopStats() }
        let shared = SharedConnectState()
        let sampler = config.pid.map { ProcessSampler(pid: $0) }
        var interrupted = false

        let clock = ContinuousClock()
        let start = clock.now
        let startClientCPU = ProcessSampler.ownCPUSeconds()
        var lastTick = start
        var lastTickMessages = 0
        var lastTickBytes = 0
        let startSample = sampler?.sample()
        var lastTickSample = startSample
        var serverCPUMax = 0.0
        var serverRSSMax = lastTickSample?.rssBytes ?? 0
        var phase = "ramp"

        func snapshot(withLatency: Bool) async -> LoopStats.Snapshot {
            var parts: [LoopStats.Snapshot] = []
            for (loop, s) in zip(loops, stats) {
                if let p = try? await loop.submit({ s.snapshot(withLatency: withLatency) }).get() { parts.append(p) }
            }
            return .merged(parts)
        }

        /// Reports progress when a second has passed since the last report.
        func tick(force: Bool = false) async {
            let now = clock.now
            let elapsed = now - lastTick
            guard force || elapsed >= .seconds(1) else { return }
            let seconds = elapsed.seconds
            let snap = await snapshot(withLatency: false)
            let sample = sampler?.sample()
            var cpu: Double?
            if let sample, let last = lastTickSample {
                let c = ProcessSampler.cpuPercent(from: last, to: sample)
                cpu = c
                if phase == "measure" { serverCPUMax = max(serverCPUMax, c) }
            }
            if let sample { serverRSSMax = max(serverRSSMax, sample.rssBytes) }
            let (open, failed) = shared.state.withLock { ($0.open, $0.failed) }
            progress(BenchProgress(
                phase: phase, elapsedSeconds: (now - start).seconds, open: open - snap.closedByServer, requested: config.connections,
                failed: failed,
                messagesPerSecond: seconds > 0 ? Double(snap.messages - lastTickMessages) / seconds : 0,
                bytesPerSecond: seconds > 0 ? Double(snap.bytes - lastTickBytes) / seconds : 0,
                serverCPUPercent: cpu, serverRSSBytes: sample?.rssBytes))
            lastTick = now
            lastTickMessages = snap.messages
            lastTickBytes = snap.bytes
            lastTickSample = sample ?? lastTickSample
        }

        func launch(_ index: Int) {
            let loop = loops[index % loops.count]
            let began = monotonicNanoseconds()
            shared.state.withLock { $0.pending += 1 }
            BenchConnector.connect(
                on: loop, configuration: config, stats: stats[index % loops.count],
                firstMessage: messagesToSend.isEmpty ? nil : messagesToSend[index]
            ).whenComplete { result in
                let took = monotonicNanoseconds() - began
                shared.state.withLock { s in
                    s.pending -= 1
                    switch result {
                    case .success(let channel):
                        s.open += 1
                        _ = s.connectTime.record(UInt64(max(took, 0)))
                        s.channels.append(channel)
                    case .failure(let error):
                        s.failed += 1
                        if s.firstError == nil { s.firstError = "\(error)" }
                    }
                }
            }
        }

        // Ramp: open connections at the configured rate, never more than maxPendingConnects at a time.
        var started = 0
        do {
            while started < config.connections {
                let due = config.rampPerSecond.map { min(config.connections, Int(($0 * (clock.now - start).seconds).rounded(.down)) + 1) }
                    ?? config.connections
                let pending = shared.state.withLock { $0.pending }
                var room = config.maxPendingConnects - pending
                while started < due, room > 0 {
                    launch(started)
                    started += 1
                    room -= 1
                }
                await tick()
                try await Task.sleep(for: .milliseconds(2))
            }
            while shared.state.withLock({ $0.pending }) > 0 {
                await tick()
                try await Task.sleep(for: .milliseconds(2))
            }
        } catch {
            interrupted = true
        }
        let rampEnd = clock.now
        let (openCount, firstError) = shared.state.withLock { ($0.open, $0.firstError) }
        if openCount == 0, !interrupted {
            try? await group.shutdownGracefully()
            throw BenchError.noConnection(firstError ?? "unknown")
        }

        // The measured window: from the end of the ramp; a run interrupted while ramping reports
        // everything since the first connect instead.
        phase = "measure"
        var base = LoopStats.Snapshot()
        var baseSample = startSample
        var baseClientCPU = startClientCPU
        var windowStart = start
        if !interrupted {
            // Each loop forgets its latencies and reads its counters in one task, so that no message
            // falls between the two.
            var parts: [LoopStats.Snapshot] = []
            for (loop, s) in zip(loops, stats) {
                if let p = try? await loop.submit({ s.startWindow(); return s.snapshot(withLatency: false) }).get() { parts.append(p) }
            }
            base = .merged(parts)
            baseSample = sampler?.sample()
            baseClientCPU = ProcessSampler.ownCPUSeconds()
            windowStart = clock.now
        }
        lastTick = windowStart
        lastTickMessages = base.messages
        lastTickBytes = base.bytes
        lastTickSample = baseSample
        serverRSSMax = max(serverRSSMax, baseSample?.rssBytes ?? 0)
        let windowEnd = windowStart + config.duration
        if !interrupted {
            do {
                while clock.now < windowEnd {
                    let nextTick = min(lastTick + .seconds(1), windowEnd)
                    try await clock.sleep(until: nextTick, tolerance: .milliseconds(5))
                    await tick(force: clock.now >= windowEnd)
                }
            } catch {
                interrupted = true
            }
        }
        let end = await snapshot(withLatency: true)
        let endTime = clock.now
        let endSample = sampler?.sample()
        let endClientCPU = ProcessSampler.ownCPUSeconds()
        let window = (endTime - windowStart).seconds

        // Close politely, give the server a moment to answer, then shut the loops down.
        let (channels, final) = shared.state.withLock { s in (s.channels, s) }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(BenchClientHandler.CloseRequest()) }
        let closeDeadline = clock.now + .seconds(2)
        for channel in channels {
            guard clock.now < closeDeadline else { break }
            _ = try? await channel.closeFuture.get()
        }
        try? await group.shutdownGracefully()

        var server: BenchReport.ProcessUsage?
        if let pid = config.pid, let a = baseSample, let b = endSample {
            server = BenchReport.ProcessUsage(
                pid: pid, cpuPercent: ProcessSampler.cpuPercent(from: a, to: b),
                cpuPercentMax: max(serverCPUMax, ProcessSampler.cpuPercent(from: a, to: b)),
                rssStartBytes: a.rssBytes, rssEndBytes: b.rssBytes, rssMaxBytes: max(serverRSSMax, b.rssBytes))
        }
        return BenchReport(
            target: config.target.description,
            connectionsRequested: config.connections,
            connectionsOpen: final.open,
            connectionsFailed: final.failed,
            connectionsClosedByServer: end.closedByServer,
            firstConnectError: final.firstError,
            connectTime: BenchReport.Percentiles(nanoseconds: final.connectTime),
            rampSeconds: (rampEnd - start).seconds,
            durationSeconds: window,
            interrupted: interrupted,
            messages: end.messages - base.messages,
            bytes: end.bytes - base.bytes,
            messagesSinceFirstConnect: end.messages,
            bytesSinceFirstConnect: end.bytes,
            latencyField: config.latencyField?.description,
            latency: end.latency.flatMap { BenchReport.Percentiles(nanoseconds: $0) },
            latencyMissing: end.latencyMissing,
            latencyNegative: end.latencyNegative,
            server: server,
            clientThreads: config.threads,
            clientCPUPercent: window > 0 ? (endClientCPU - baseClientCPU) / window * 100 : 0)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
