import Foundation

extension BenchReport {
    /// The report as a table for people (`tapedeck bench` without `--json`).
    public var table: String {
        var rows: [(String, String)] = []
        rows.append(("target", target))
        let conns = "\(connectionsOpen) open of \(connectionsRequested)"
            + (connectionsFailed > 0 ? ", \(connectionsFailed) failed" : "")
            + (connectionsClosedByServer > 0 ? ", \(connectionsClosedByServer) closed by the server" : "")
        rows.append(("connections", conns))
        if let firstConnectError { rows.append(("first connect error", firstConnectError)) }
        if let c = connectTime {
            rows.append(("connect time", "p50 \(ms(c.p50))  p90 \(ms(c.p90))  p99 \(ms(c.p99))  max \(ms(c.max))  (ramp \(fixed(rampSeconds, 2)) s)"))
        }
        rows.append(("measured", "\(fixed(durationSeconds, 2)) s" + (interrupted ? " (interrupted)" : "")))
        rows.append(("messages", "\(grouped(messages))  (\(grouped(Int(messagesPerSecond.rounded()))) msg/s, \(fixed(messagesPerSecondPerConnection, 1)) per connection)"))
        rows.append(("bytes", "\(mib(bytes))  (\(fixed(bytesPerSecond / 1_048_576, 2)) MiB/s)"))
        if let latencyField {
            if let l = latency {
                rows.append(("latency \(latencyField)", "p50 \(ms(l.p50))  p90 \(ms(l.p90))  p99 \(ms(l.p99))  p99.9 \(ms(l.p999))  max \(ms(l.max))  (\(grouped(l.samples)) samples)"))
            } else {
                rows.append(("latency \(latencyField)", "no samples"))
            }
            if latencyMissing > 0 || latencyNegative > 0 {
                rows.append(("without a stamp", "\(grouped(latencyMissing)) messages" + (latencyNegative > 0 ? ", \(latencyNegative) stamped in the future" : "")))
            }
        }
        if let s = server {
            rows.append(("server pid \(s.pid)", "CPU \(fixed(s.cpuPercent, 1))% (busiest second \(fixed(s.cpuPercentMax, 1))%)  RSS \(mib(s.rssStartBytes)) -> \(mib(s.rssEndBytes)) (max \(mib(s.rssMaxBytes)))"))
        }
        rows.append(("client", "\(clientThreads) thread\(clientThreads == 1 ? "" : "s"), CPU \(fixed(clientCPUPercent, 1))%"))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n") + "\n"
    }
}

func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

func ms(_ x: Double) -> String { x < 1 ? "\(fixed(x * 1000, 0)) µs" : "\(fixed(x, x < 10 ? 2 : 1)) ms" }

func mib(_ bytes: Int) -> String { "\(fixed(Double(bytes) / 1_048_576, 1)) MiB" }

func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}
