import Histogram
import TapedeckCore

/// The result of a benchmark run: what was opened, what arrived, how late, and what the server cost.
public struct BenchReport: Sendable {
    /// Percentiles of a distribution, in milliseconds.
    public struct Percentiles: Sendable, Equatable {
        public var samples: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public var mean: Double

        public init(samples: Int, p50: Double, p90: Double, p99: Double, p999: Double, max: Double, mean: Double) {
            self.samples = samples
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p999 = p999
            self.max = max
            self.mean = mean
        }
    }

    /// CPU and memory of the target process over the measured window.
    public struct ProcessUsage: Sendable, Equatable {
        public var pid: Int32
        /// Average CPU over the window, percent of one core.
        public var cpuPercent: Double
        /// The busiest second of the window.
        public var cpuPercentMax: Double
        /// RSS when the window began (every connection open), at its end, and the highest seen.
        public var rssStartBytes: Int
        public var rssEndBytes: Int
        public var rssMaxBytes: Int
    }

    /// The URL measured.
    public var target: String
    /// Connections asked for, opened, refused or failed, and closed by the server during the run.
    public var connectionsRequested: Int
    public var connectionsOpen: Int
    public var connectionsFailed: Int
    public var connectionsClosedByServer: Int
    /// The first connect error, when there was one.
    public var firstConnectError: String?
    /// Time from TCP connect to the end of the upgrade.
    public var connectTime: Percentiles?
    /// Seconds from the first connect until every connection was open (or had failed).
    public var rampSeconds: Double
    /// Length of the measured window, in seconds.
    public var durationSeconds: Double
    /// Whether the run was cut short (Ctrl-C): the figures cover what was measured until then.
    public var interrupted: Bool
    /// Messages and payload bytes received during the window.
    public var messages: Int
    public var bytes: Int
    /// Messages and payload bytes received since the first connect, the ramp included.
    public var messagesSinceFirstConnect: Int
    public var bytesSinceFirstConnect: Int
    /// The latency field read, and one-way latency over the window.
    public var latencyField: String?
    public var latency: Percentiles?
    /// Messages of the window without a readable stamp, and with a stamp later than their arrival.
    public var latencyMissing: Int
    public var latencyNegative: Int
    /// The target process, when `--pid` was given and readable.
    public var server: ProcessUsage?
    /// The load generator's own event loop threads and CPU over the window (percent of one core).
    public var clientThreads: Int
    public var clientCPUPercent: Double

    /// Messages per second over the window, for all connections together.
    public var messagesPerSecond: Double { durationSeconds > 0 ? Double(messages) / durationSeconds : 0 }
    /// Payload bytes per second over the window.
    public var bytesPerSecond: Double { durationSeconds > 0 ? Double(bytes) / durationSeconds : 0 }
    /// Messages per second per open connection.
    public var messagesPerSecondPerConnection: Double { connectionsOpen > 0 ? messagesPerSecond / Double(connectionsOpen) : 0 }
}

extension BenchReport.Percentiles {
    /// Reads a histogram of nanoseconds.
    init?(nanoseconds histogram: HistogramNanoseconds) {
        guard histogram.totalCount > 0 else { return nil }
        func ms(_ v: UInt64) -> Double { Double(v) / 1e6 }
        self.init(
            samples: Int(histogram.totalCount),
            p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
            p99: ms(histogram.valueAtPercentile(99)), p999: ms(histogram.valueAtPercentile(99.9)),
            max: ms(histogram.max), mean: histogram.mean / 1e6)
    }

    var value: Value {
        [
            "samples": .int(samples), "p50": .double(rounded(p50)), "p90": .double(rounded(p90)), "p99": .double(rounded(p99)),
            "p99_9": .double(rounded(p999)), "max": .double(rounded(max)), "mean": .double(rounded(mean)),
        ]
    }
}

/// Three decimals: microseconds when the unit is milliseconds.
func rounded(_ x: Double, _ digits: Double = 1000) -> Double { (x * digits).rounded() / digits }
