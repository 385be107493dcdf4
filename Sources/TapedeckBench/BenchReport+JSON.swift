public import TapedeckCore

extension BenchReport {
    /// The report as an ordered JSON value (`tapedeck bench --json`). Times in milliseconds, rates per second,
    /// memory in bytes; `latency_ms` and `server` are null when not measured.
    public var json: Value {
        var connections: Value = [
            "requested": .int(connectionsRequested), "open": .int(connectionsOpen), "failed": .int(connectionsFailed),
            "closed_by_server": .int(connectionsClosedByServer),
            "connect_ms": connectTime?.value ?? .null,
            "ramp_s": .double(rounded(rampSeconds)),
        ]
        if let firstConnectError { connections["first_error"] = .string(firstConnectError) }
        var latencyValue: Value = .null
        if let latencyField {
            var l = latency?.value ?? ["samples": 0]
            l["field"] = .string(latencyField)
            l["missing"] = .int(latencyMissing)
            l["negative"] = .int(latencyNegative)
            latencyValue = l
        }
        var serverValue: Value = .null
        if let server {
            serverValue = [
                "pid": .int(Int(server.pid)), "cpu_percent": .double(rounded(server.cpuPercent, 10)),
                "cpu_percent_max": .double(rounded(server.cpuPercentMax, 10)),
                "rss_start_bytes": .int(server.rssStartBytes), "rss_end_bytes": .int(server.rssEndBytes),
                "rss_max_bytes": .int(server.rssMaxBytes),
            ]
        }
        return [
            "target": .string(target),
            "interrupted": .bool(interrupted),
            "duration_s": .double(rounded(durationSeconds)),
            "connections": connections,
            "messages": [
                "total": .int(messages), "bytes": .int(bytes),
                "per_second": .double(rounded(messagesPerSecond, 10)), "bytes_per_second": .double(rounded(bytesPerSecond, 10)),
                "per_connection_per_second": .double(rounded(messagesPerSecondPerConnection, 100)),
                "since_first_connect": ["total": .int(messagesSinceFirstConnect), "bytes": .int(bytesSinceFirstConnect)],
            ],
            "latency_ms": latencyValue,
            "server": serverValue,
            "client": ["threads": .int(clientThreads), "cpu_percent": .double(rounded(clientCPUPercent, 10))],
        ]
    }
}
