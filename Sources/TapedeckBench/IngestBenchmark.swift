import Foundation
import NIOCore
import NIOPosix
import TapedeckCore
import TapedeckRecording

/// Measures the recorder's ingest: how many frames per second `RecordingWriter` takes in and commits
/// to a SQLite file, with nothing else running (no sockets), and the CPU time it costs.
///
/// The frames are JSON text messages of about `payloadSize` bytes, each distinct (a sequence number and
/// a value change per frame), spread over `connections` connections. They are fed the way the
/// recording proxy feeds them: each connection on an event loop of NIO's shared group, up to
/// ``framesPerRead`` frames per turn of the loop (a read's worth), queued without waiting, and paused
/// while the writer's queue is full until it has room. Payloads are made before the clock starts.
public struct IngestBenchmark: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        public var frames: Int
        public var connections: Int
        public var payloadSize: Int
        /// The SQLite file to write (overwritten).
        public var path: String
        public var writer: RecordingConfiguration

        public init(frames: Int, connections: Int, payloadSize: Int, path: String, writer: RecordingConfiguration = RecordingConfiguration()) {
            self.frames = frames
            self.connections = connections
            self.payloadSize = payloadSize
            self.path = path
            self.writer = writer
        }
    }

    /// What was measured.
    public struct Report: Sendable {
        public var frames: Int
        public var connections: Int
        public var payloadSize: Int
        /// From the first append until the last batch committed and the file was closed.
        public var seconds: Double
        /// CPU time of the whole process (user and system) over the same span.
        public var cpuSeconds: Double
        public var fileBytes: Int
        public var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }
        public var framesPerCPUSecond: Double { cpuSeconds > 0 ? Double(frames) / cpuSeconds : 0 }

        /// A short table for a terminal.
        public var table: String {
            """
            recorder ingest: \(grouped(frames)) frames of ~\(payloadSize) B over \(connections) connection(s)
              wall time        \(fixed(seconds, 2)) s
              frames/s         \(grouped(Int(framesPerSecond.rounded())))
              CPU time         \(fixed(cpuSeconds, 2)) s (\(fixed(cpuSeconds / max(seconds, 1e-9) * 100, 0))% of one core)
              frames/CPU-s     \(grouped(Int(framesPerCPUSecond.rounded())))
              file             \(mib(fileBytes))

            """
        }

        /// The report as JSON.
        public var json: Value {
            [
                "frames": .int(frames), "connections": .int(connections), "payload_size": .int(payloadSize),
                "seconds": .double(seconds), "cpu_seconds": .double(cpuSeconds), "file_bytes": .int(fileBytes),
                "frames_per_second": .double(framesPerSecond), "frames_per_cpu_second": .double(framesPerCPUSecond),
            ]
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Writes the frames and returns the measurement; `progress` gets the frames committed once a second.
    public func run(progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        let c = configuration
        var writerConfiguration = c.writer
        writerConfiguration.overwrite = true
        let writer = try await RecordingWriter.open(
            path: c.path, metadata: RecordingMetadata(name: "tapedeck bench recorder", tags: ["bench"]),
            configuration: writerConfiguration)
        var ids: [ConnectionID] = []
        for i in 0..<c.connections {
            ids.append(try await writer.beginConnection(ConnectionInfo(path: "/bench", peer: "127.0.0.1:\(40000 + i)")))
        }
        let payloads = Self.payloads(count: 1024, size: c.payloadSize)
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                progress(writer.statistics.framesCommitted, c.frames)
            }
        }
        let cpuBefore = Self.cpuSeconds()
        let start = ContinuousClock.now
        let group = NIOSingletons.posixEventLoopGroup
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (index, id) in ids.enumerated() {
                let share = c.frames / c.connections + (index < c.frames % c.connections ? 1 : 0)
                let producer = Producer(writer: writer, connection: id, frames: share, offset: index, payloads: payloads, loop: group.next())
                tasks.addTask { try await producer.run() }
            }
            try await tasks.waitForAll()
        }
        for id in ids { try await writer.endConnection(id, close: ConnectionClose(serverCode: 1000)) }
        try await writer.finish()
        let elapsed = ContinuousClock.now - start
        let cpu = Self.cpuSeconds() - cpuBefore
        reporter.cancel()
        let size = (try? FileManager.default.attributesOfItem(atPath: c.path)[.size] as? Int) ?? 0
        let (s, atto) = elapsed.components
        return Report(
            frames: c.frames, connections: c.connections, payloadSize: c.payloadSize,
            seconds: Double(s) + Double(atto) / 1e18, cpuSeconds: cpu, fileBytes: size ?? 0)
    }

    /// Frames fed per turn of an event loop, as from one read of a socket.
    public static let framesPerRead = 64

    /// One connection's frames, fed on its event loop like the proxy's relay: a read's worth per turn,
    /// stopping while the writer's queue is full (`enqueue` says so) until `whenSpaceAvailable`.
    private final class Producer: @unchecked Sendable {
        // Touched only on `loop`, after `run()` hands over to it.
        private let writer: RecordingWriter
        private let connection: ConnectionID
        private let frames: Int
        private let offset: Int
        private let payloads: [[UInt8]]
        private let loop: any EventLoop
        private var sent = 0
        private var done: CheckedContinuation<Void, any Error>?

        init(writer: RecordingWriter, connection: ConnectionID, frames: Int, offset: Int, payloads: [[UInt8]], loop: any EventLoop) {
            self.writer = writer
            self.connection = connection
            self.frames = frames
            self.offset = offset
            self.payloads = payloads
            self.loop = loop
        }

        func run() async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                loop.execute {
                    self.done = c
                    self.turn()
                }
            }
        }

        private func turn() {
            var fed = 0
            while sent < frames && fed < IngestBenchmark.framesPerRead {
                let frame = RecordedFrame(
                    connection: connection, direction: .serverToClient, opcode: .text, payload: payloads[(sent &+ offset) & 1023])
                sent += 1
                fed += 1
                let full: Bool
                do { full = try writer.enqueue(frame) } catch {
                    finish(error)
                    return
                }
                if full && sent < frames {
                    let loop = loop
                    writer.whenSpaceAvailable { loop.execute { self.turn() } }
                    return
                }
            }
            if sent == frames { finish(nil) } else { loop.execute { self.turn() } }
        }

        private func finish(_ error: (any Error)?) {
            guard let c = done else { return }
            done = nil
            if let error { c.resume(throwing: error) } else { c.resume() }
        }
    }

    /// Distinct JSON metric messages of about `size` bytes each.
    static func payloads(count: Int, size: Int) -> [[UInt8]] {
        (0..<count).map { i in
            let head = #"{"type":"metric","action":"sample","data":{"seq":\#(i),"host":"web-\#(i % 7)","value":\#(Double(i % 997) / 10),"pad":""#
            let tail = #""}}"#
            let pad = max(0, size - head.utf8.count - tail.utf8.count)
            return Array((head + String(repeating: "x", count: pad) + tail).utf8)
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
