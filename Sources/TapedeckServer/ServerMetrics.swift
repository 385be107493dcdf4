import CoreMetrics
import Prometheus

typealias Counter = CoreMetrics.Counter
import Synchronization

/// The simulator's Prometheus metrics, in a registry the server owns (no global
/// `MetricsSystem.bootstrap`, so servers in one process, as in parallel tests, do not mix).
///
/// Metrics are swift-metrics types made by a `PrometheusMetricsFactory` over that registry. The
/// per-profile ones are resolved once per connection (``ProfileMetrics``), and a connection adds
/// what it wrote once per flush, so the fan-out path costs two atomic adds per batch per
/// connection and no lock or dictionary lookup per message.
public final class ServerMetrics: Sendable {
    /// The metrics of one profile.
    final class ProfileMetrics: Sendable {
        let connections: Meter
        let messagesIn: Counter
        let messagesOut: Counter
        let bytesOut: Counter
        let drops: Counter
        /// Events waiting in the queues of the profile's connections, set when `/metrics` is read.
        let queueDepth: Meter

        init(profile: String, factory: PrometheusMetricsFactory) {
            let d = [("profile", profile)]
            connections = Meter(label: "tapedeck_connections", dimensions: d, factory: factory)
            messagesIn = Counter(label: "tapedeck_messages_in_total", dimensions: d, factory: factory)
            messagesOut = Counter(label: "tapedeck_messages_out_total", dimensions: d, factory: factory)
            bytesOut = Counter(label: "tapedeck_bytes_out_total", dimensions: d, factory: factory)
            drops = Counter(label: "tapedeck_dropped_events_total", dimensions: d, factory: factory)
            queueDepth = Meter(label: "tapedeck_queue_depth", dimensions: d, factory: factory)
        }

        func connected() { connections.increment() }
        func disconnected() { connections.decrement() }
        func received() { messagesIn.increment() }
        func wrote(messages: Int, bytes: Int) {
            messagesOut.increment(by: messages)
            bytesOut.increment(by: bytes)
        }
    }

    /// The registry the metrics live in; `/metrics` renders it.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let profiles: [String: ProfileMetrics]
    private let refused = Mutex<[Int: Counter]>([:])
    /// How late the scheduler handed events over, in seconds.
    let scheduleLag: Recorder
    /// Frames the recorder wrote (`serve --record`).
    let recordedFrames: Counter
    /// Events the scheduler handed to the hub.
    let eventsScheduled: Counter
    /// Frames in batches the recorder committed.
    let recorderFramesCommitted: Counter
    /// How long a batch's oldest frame waited, from being handed to the writer until the batch committed.
    let recorderWriteSeconds: Recorder
    private let droppedTotal = Atomic<Int>(0)

    /// Metrics for the given profiles (others are made on first use).
    public init(profiles: [String]) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["tapedeck_schedule_lag_seconds"] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        factory.valueHistogramBuckets["tapedeck_recorder_write_seconds"] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
        self.registry = registry
        self.factory = factory
        var map: [String: ProfileMetrics] = [:]
        for p in profiles { map[p] = ProfileMetrics(profile: p, factory: factory) }
        self.profiles = map
        scheduleLag = Recorder(label: "tapedeck_schedule_lag_seconds", dimensions: [], aggregate: true, factory: factory)
        recordedFrames = Counter(label: "tapedeck_recorder_frames_total", dimensions: [], factory: factory)
        eventsScheduled = Counter(label: "tapedeck_events_scheduled_total", dimensions: [], factory: factory)
        recorderFramesCommitted = Counter(label: "tapedeck_recorder_frames_committed_total", dimensions: [], factory: factory)
        recorderWriteSeconds = Recorder(label: "tapedeck_recorder_write_seconds", dimensions: [], aggregate: true, factory: factory)
    }

    /// The metrics of `profile`, to be kept by a connection.
    func profile(_ profile: String) -> ProfileMetrics {
        profiles[profile] ?? ProfileMetrics(profile: profile, factory: factory)
    }

    /// The scheduler handed `count` events over, `lag` seconds late.
    func scheduled(count: Int, lag: Double) {
        eventsScheduled.increment(by: count)
        scheduleLag.record(lag)
    }

    /// Sets each profile's queue-depth gauge to the sum over its connections (profiles not given: 0).
    /// Called when `/metrics` is read, so the fan-out path never touches it.
    func setQueueDepths(_ depths: [String: Int]) {
        for (name, m) in profiles { m.queueDepth.set(depths[name] ?? 0) }
        for (name, depth) in depths where profiles[name] == nil { profile(name).queueDepth.set(depth) }
    }

    /// An event dropped from a full queue (rare: a slow reader).
    func dropped(_ profile: ProfileMetrics) {
        profile.drops.increment()
        droppedTotal.add(1, ordering: .relaxed)
    }

    /// Events dropped from full queues so far, all profiles together.
    public var droppedCount: Int { droppedTotal.load(ordering: .relaxed) }

    /// Counts frames handed to the recorder (`serve --record`, or a recording started through the control API).
    public func recorded(frames: Int) {
        recordedFrames.increment(by: frames)
    }

    /// The recorder committed a batch of `frames` frames, the oldest of which waited `wait` since it
    /// was handed to the writer (one call per batch, not per frame).
    public func recorderCommitted(frames: Int, wait: Duration?) {
        recorderFramesCommitted.increment(by: frames)
        if let wait { recorderWriteSeconds.record(seconds(wait)) }
    }

    /// An upgrade refused with `status`.
    func refusedUpgrade(status: Int) {
        let counter = refused.withLock { m in
            if let c = m[status] { return c }
            let c = Counter(label: "tapedeck_upgrades_refused_total", dimensions: [("status", String(status))], factory: factory)
            m[status] = c
            return c
        }
        counter.increment()
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        registry.emitToString()
    }
}
