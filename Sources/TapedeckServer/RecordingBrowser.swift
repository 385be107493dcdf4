import Foundation
import HTTPTypes
import TapedeckCore
import TapedeckRecording

/// The recordings the dashboard may open: those of one directory chosen at start
/// (`serve --recordings DIR`) and the one this server is writing (`serve --record FILE`).
///
/// A recording is asked for by name, and only a name of the current list opens anything: no path
/// from a request ever reaches the file system.
struct RecordingBrowser: Sendable {
    /// A recording offered.
    struct Item: Sendable {
        var name: String
        var path: String
        /// The recording this server is writing.
        var live: Bool
    }

    let directory: String?
    let liveRecording: String?
    /// At most this many files of the directory are offered.
    static let maxListed = 1000
    /// At most this many frames per page.
    static let maxPage = 5000

    /// The recordings offered now: the live one first, then the directory's SQLite files by name.
    func list() -> [Item] {
        var items: [Item] = []
        var seen = Set<String>()
        if let liveRecording {
            let url = URL(fileURLWithPath: liveRecording).standardizedFileURL
            items.append(Item(name: url.lastPathComponent, path: url.path, live: true))
            seen.insert(url.lastPathComponent)
        }
        guard let directory else { return items }
        let dir = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        for name in names where !name.hasPrefix(".") && !seen.contains(name) {
            if items.count >= Self.maxListed { break }
            let path = dir.appendingPathComponent(name).path
            guard Self.isSQLite(path) else { continue }
            items.append(Item(name: name, path: path, live: false))
            seen.insert(name)
        }
        return items
    }

    /// The listed recording called `name`; 404 for any other name.
    func item(named raw: String) throws(ControlAPI.Failure) -> Item {
        let name = raw.removingPercentEncoding ?? raw
        guard !name.contains("/"), name != "..", name != ".", let item = list().first(where: { $0.name == name }) else {
            throw ControlAPI.Failure(
                status: .notFound, error: "not_found", message: "no recording named \(Value.string(name).jsonString); GET /_tapedeck/recordings lists them")
        }
        return item
    }

    /// `GET /_tapedeck/recordings`.
    func listValue() -> Value {
        let items = list().map { item -> Value in
            let size = (try? FileManager.default.attributesOfItem(atPath: item.path)[.size] as? Int) ?? nil
            return ["name": .string(item.name), "live": .bool(item.live), "bytes": size.map { .int($0) } ?? .null]
        }
        return ["directory": directory.map(Value.string) ?? .null, "recordings": .array(items)]
    }

    /// `GET /_tapedeck/recordings/{name}`: what `tapedeck inspect --json` shows, with the rate in
    /// `buckets` buckets.
    func summary(named name: String, buckets: Int) throws(ControlAPI.Failure) -> Value {
        let item = try item(named: name)
        do {
            var value = try RecordingSummary(path: item.path, buckets: buckets).json
            value["file"] = .string(item.name)
            value["live"] = .bool(item.live)
            return value
        } catch {
            throw ControlAPI.Failure(status: .unprocessableContent, error: "unreadable_recording", message: "\(item.name) cannot be read: \(error)")
        }
    }

    /// `GET /_tapedeck/recordings/{name}/connections/{id}/frames`: up to `limit` frames of one
    /// connection after sequence number `after`, both directions, in order.
    func frames(named name: String, connection: Int64, after: Int64, limit: Int) throws(ControlAPI.Failure) -> Value {
        let item = try item(named: name)
        let page: [RawStoredFrame]
        do {
            let reader = try RecordingReader(path: item.path)
            guard try reader.connections().contains(where: { $0.id.rawValue == connection }) else {
                throw ControlAPI.Failure(status: .notFound, error: "not_found", message: "\(item.name) has no connection \(connection)")
            }
            page = try reader.framePage(connection: ConnectionID(rawValue: connection), after: after, limit: limit)
        } catch let failure as ControlAPI.Failure {
            throw failure
        } catch {
            throw ControlAPI.Failure(status: .unprocessableContent, error: "unreadable_recording", message: "\(item.name) cannot be read: \(error)")
        }
        let frames = page.map(Self.frameValue)
        return [
            "recording": .string(item.name), "connection": .int(Int(connection)), "frames": .array(frames),
            "next": page.count == limit ? page.last.map { .int(Int($0.seq)) } ?? .null : .null,
        ]
    }

    /// A frame for the viewer: its text when it is text (or decoded), else its bytes in hex (the
    /// first 256).
    static func frameValue(_ f: RawStoredFrame) -> Value {
        var text: Value = .null
        var decoded: Value = .null
        if let json = f.decodedJSON, let v = try? Value(json: json) { decoded = v }
        switch f.opcode {
        case .text:
            text = .string(String(decoding: f.payload, as: UTF8.self))
        case .close:
            let (code, reason) = ConnectionClose.parseClosePayload(f.payload)
            text = .string("close \(code.map(String.init) ?? "-")\(reason.map { $0.isEmpty ? "" : " \($0)" } ?? "")")
        default:
            if decoded.isNull {
                let hex = f.payload.prefix(256).map { String(format: "%02x", $0) }.joined(separator: " ")
                text = .string(f.payload.count > 256 ? hex + " …" : hex)
            }
        }
        return [
            "seq": .int(Int(f.seq)), "direction": .string(f.direction.rawValue), "opcode": .string(f.opcode.rawValue),
            "offset_ms": .double(Double(f.offsetNanos / 1000) / 1000), "bytes": .int(f.payload.count), "text": text, "decoded": decoded,
        ]
    }

    static func isSQLite(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: path)
        else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 16)) == Data("SQLite format 3\u{0}".utf8)
    }
}
