import Foundation
import Testing
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording
import TapedeckScenario
import TapedeckServer

/// The dashboard on a real server: its page, the feed of recent events, the recording viewer.
@Suite("Dashboard")
struct DashboardTests {
    /// A recording with one connection (two frames each way, then a close) in a fresh directory,
    /// next to a file that is not a recording.
    static func recordingsDirectory() async throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-dash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let writer = try await RecordingWriter.open(path: dir + "/session.sqlite", metadata: RecordingMetadata(name: "session", scenario: "s"))
        let c = try await writer.beginConnection(ConnectionInfo(path: "/api/ws", peer: "127.0.0.1:5000"))
        let frames: [RecordedFrame] = [
            RecordedFrame(connection: c, direction: .clientToServer, opcode: .text, payload: Array(#"{"action":"subscribe"}"#.utf8)),
            RecordedFrame(connection: c, direction: .serverToClient, opcode: .text, payload: Array(#"{"type":"incident","n":1}"#.utf8)),
            RecordedFrame(connection: c, direction: .serverToClient, opcode: .binary, payload: [0xDE, 0xAD]),
            RecordedFrame(connection: c, direction: .clientToServer, opcode: .close, payload: [0x03, 0xE8] + Array("bye".utf8)),
        ]
        for f in frames { try await writer.append(f) }
        try await writer.endConnection(c, close: ConnectionClose(clientCode: 1000, clientReason: "bye"))
        _ = try await writer.finish()
        try "not a recording".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        return dir
    }

    @Test(.timeLimit(.minutes(1))) func thePageAndItsFilesAreServedAndNeedNothingFromElsewhere() async throws {
        try await withSimulator(scenario: ControlAPITests.scenario()) { port async throws in
            for path in ["/_tapedeck/", "/_tapedeck"] {
                let page = try await http(port: port, "GET", path)
                #expect(page.status == 200, "\(path)")
                #expect(page.header("content-type")?.hasPrefix("text/html") == true)
                #expect(page.body.contains("/_tapedeck/ui/dashboard.js"))
                #expect(page.header("content-security-policy")?.contains("default-src 'self'") == true)
            }
            let js = try await http(port: port, "GET", "/_tapedeck/ui/dashboard.js")
            #expect(js.status == 200)
            #expect(js.header("content-type")?.hasPrefix("text/javascript") == true)
            #expect(js.body.contains("/timeline/pause"))
            let css = try await http(port: port, "GET", "/_tapedeck/ui/dashboard.css")
            #expect(css.status == 200 && css.header("content-type")?.hasPrefix("text/css") == true)
            // Offline: no file loads anything from another origin.
            for body in [js.body, css.body, try await http(port: port, "GET", "/_tapedeck/").body] {
                #expect(!body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"))
            }
            let missing = try await http(port: port, "GET", "/_tapedeck/ui/control-api.yaml")
            #expect(missing.status == 404)
            #expect(missing.json?["error"] == "not_found")
        }
    }

    @Test(.timeLimit(.minutes(1))) func withATokenThePageLoadsButItsDataNeedsTheTokenAndNoControlRemovesIt() async throws {
        let dir = try await Self.recordingsDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await withSimulator(scenario: ControlAPITests.scenario(), configure: {
            $0.controlToken = "s3cret"
            $0.recordingsDirectory = dir
        }) { port async throws in
            #expect(try await http(port: port, "GET", "/_tapedeck/").status == 200)
            for path in ["/_tapedeck/events", "/_tapedeck/recordings", "/_tapedeck/recordings/session.sqlite"] {
                #expect(try await http(port: port, "GET", path).status == 401, "\(path)")
                #expect(try await http(port: port, "GET", path, headers: ["Authorization": "Bearer s3cret"]).status == 200, "\(path)")
            }
        }
        try await withSimulator(scenario: ControlAPITests.scenario(), configure: {
            $0.controlEnabled = false
            $0.recordingsDirectory = dir
        }) { port async throws in
            for path in ["/_tapedeck/", "/_tapedeck/ui/dashboard.js", "/_tapedeck/events", "/_tapedeck/recordings"] {
                #expect(try await http(port: port, "GET", path).status == 404, "\(path)")
            }
        }
    }

    /// Each event handed over is in the feed once, with its stream, type, scenario time and the
    /// number of connections it was handed to; `since` gives only the newer ones.
    @Test(.timeLimit(.minutes(1))) func theEventFeedListsEachEventHandedOverOnce() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: ControlAPITests.scenario(every: "1s", count: 10), speed: .factor(1), timeline: .shared, clock: clock) { port async throws in
            let empty = try await http(port: port, "GET", "/_tapedeck/events").json
            #expect(empty?["events"] == [])
            #expect(empty?["last"] == 0)
            let headers = try await ControlAPITests.bearer("qa", clock: clock)
            let (seqs, seen) = AsyncStream<Int>.makeStream()
            let (done, doneGo) = AsyncStream<Void>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    guard let n = m["data"]?["seq"]?.intValue else { continue }
                    seen.yield(n)
                    if n == 3 { break }
                }
                for await _ in done { break }
                try await client.close()
                return true
            }
            var it = seqs.makeAsyncIterator()
            #expect(await it.next() == 1)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 2)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 3)
            let feed = try await http(port: port, "GET", "/_tapedeck/events").json
            let events = feed?["events"]?.arrayValue ?? []
            #expect(events.count == 3, "\(feed ?? .null)")
            #expect(feed?["last"] == 3)
            #expect(events.map { $0["seq"] } == [1, 2, 3])
            #expect(events.map { $0["scenario_time"]?.doubleValue } == [0, 1, 2])
            for e in events {
                #expect(e["stream"] == "m")
                #expect(e["type"] == "metric")
                #expect(e["profile"] == "ops-control-center")
                #expect(e["connections"] == 1)
            }
            let newer = try await http(port: port, "GET", "/_tapedeck/events?since=2").json
            #expect(newer?["events"]?.arrayValue?.map { $0["seq"] } == [3])
            let newest = try await http(port: port, "GET", "/_tapedeck/events?limit=1").json
            #expect(newest?["events"]?.arrayValue?.map { $0["seq"] } == [3])
            for bad in ["since=-1", "since=abc", "limit=0", "limit=501"] {
                let answer = try await http(port: port, "GET", "/_tapedeck/events?\(bad)")
                #expect(answer.status == 400, "\(bad)")
                #expect(answer.json?["error"] == "bad_request")
            }
            doneGo.yield()
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func theRecordingViewerListsOpensAndPagesOnlyTheOfferedRecordings() async throws {
        let dir = try await Self.recordingsDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await withSimulator(scenario: ControlAPITests.scenario(), configure: { $0.recordingsDirectory = dir }) { port async throws in
            let list = try await http(port: port, "GET", "/_tapedeck/recordings").json
            #expect(list?["recordings"]?.arrayValue?.map { $0["name"] } == ["session.sqlite"], "\(list ?? .null)")
            #expect(list?["recordings"]?[0]?["live"] == false)

            let summary = try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite?buckets=10").json
            #expect(summary?["frames"] == 4)
            #expect(summary?["rate"]?.arrayValue?.count == 10)
            #expect(summary?["rate"]?.arrayValue?.compactMap(\.intValue).reduce(0, +) == 4)
            let connections = summary?["connections"]?.arrayValue ?? []
            #expect(connections.count == 1)
            let id = connections.first?["id"]?.intValue ?? -1

            let all = try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/\(id)/frames").json
            let frames = all?["frames"]?.arrayValue ?? []
            #expect(frames.map { $0["direction"] } == ["c2s", "s2c", "s2c", "c2s"])
            #expect(frames.first?["text"] == #"{"action":"subscribe"}"#)
            #expect(frames[safe: 2]?["text"] == "de ad")
            #expect(frames[safe: 3]?["text"] == "close 1000 bye")
            #expect(all?["next"] == .null)

            // Paging: two at a time, `next` leads to the rest.
            let first = try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/\(id)/frames?limit=2").json
            #expect(first?["frames"]?.arrayValue?.count == 2)
            let after = first?["next"]?.intValue ?? -1
            let second = try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/\(id)/frames?after=\(after)&limit=2").json
            #expect(second?["frames"]?.arrayValue?.map { $0["opcode"] } == ["binary", "close"])

            // Only listed names open anything: not a path, not another file of the directory.
            for name in ["notes.txt", "..%2Fsession.sqlite", "%2Fetc%2Fpasswd", "..", "nope.sqlite"] {
                let answer = try await http(port: port, "GET", "/_tapedeck/recordings/\(name)")
                #expect(answer.status == 404, "\(name)")
                #expect(answer.json?["error"] == "not_found", "\(name): \(answer.body)")
            }
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/99/frames").status == 404)
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/x/frames").status == 400)
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite/connections/\(id)/frames?limit=0").status == 400)
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite?buckets=nope").status == 400)
        }
        // Without --recordings nothing is offered.
        try await withSimulator(scenario: ControlAPITests.scenario()) { port async throws in
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings").json?["recordings"] == [])
            #expect(try await http(port: port, "GET", "/_tapedeck/recordings/session.sqlite").status == 404)
        }
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
