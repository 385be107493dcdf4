import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TapedeckCore

/// The web dashboard under the control API's prefix: the page (`GET /_tapedeck/` and its files
/// under `/_tapedeck/ui/`), the feed of recent events (`GET /_tapedeck/events`) and the recording
/// viewer's routes (`GET /_tapedeck/recordings...`).
///
/// The page's HTML, CSS and JS are package resources (no CDN, no build step) and hold no secret, so
/// they are served without the control token; everything the page reads or changes goes through
/// the control API and needs the token when one is set (the page takes it from `#token=...`).
struct DashboardRoutes: Sendable {
    let api: ControlAPI

    /// The page's files: name -> content type. Only these names are served.
    static let files: [String: String] = [
        "index.html": "text/html; charset=utf-8",
        "dashboard.css": "text/css; charset=utf-8",
        "dashboard.js": "text/javascript; charset=utf-8",
    ]

    /// The page's files as shipped, read once.
    static let contents: [String: ByteBuffer] = {
        guard let yaml = Bundle.module.url(forResource: "control-api", withExtension: "yaml") else { return [:] }
        let dir = yaml.deletingLastPathComponent().appendingPathComponent("dashboard")
        var out: [String: ByteBuffer] = [:]
        for name in files.keys {
            if let data = try? Data(contentsOf: dir.appendingPathComponent(name)) { out[name] = ByteBuffer(bytes: data) }
        }
        return out
    }()

    /// Events `GET /_tapedeck/events` returns at most.
    static let maxEvents = 500

    func register(on router: Router<BasicRequestContext>) {
        let prefix = ControlAPI.prefix
        let api = self.api
        /// A JSON GET route under the prefix, behind the control token.
        func route(_ path: String, _ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> Value) {
            router.get(RouterPath("\(prefix)/\(path)")) { request, context -> Response in
                guard api.authorized(request) else { return ControlAPI.unauthorized() }
                do { return ControlAPI.json(try await body(request, context)) } catch let f as ControlAPI.Failure { return ControlAPI.failure(f) }
            }
        }
        router.get(RouterPath(prefix)) { _, _ in Self.file("index.html") }
        router.get(RouterPath("\(prefix)/ui/:file")) { _, context in Self.file(context.parameters.get("file") ?? "") }
        route("events") { request, _ in
            let since = try Self.integer(request, "since", default: 0, range: 0...Int.max)
            let limit = try Self.integer(request, "limit", default: Self.maxEvents, range: 1...Self.maxEvents)
            let (entries, last) = api.hub.feed.entries(since: since, limit: limit)
            return ["events": .array(entries.map(\.value)), "last": .int(last), "capacity": .int(api.hub.feed.capacity)]
        }
        route("recordings") { _, _ in api.recordings.listValue() }
        route("recordings/:name") { request, context in
            let buckets = try Self.integer(request, "buckets", default: 60, range: 1...1000)
            return try api.recordings.summary(named: context.parameters.get("name") ?? "", buckets: buckets)
        }
        route("recordings/:name/connections/:id/frames") { request, context in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                throw ControlAPI.Failure.badRequest("the connection id must be an integer (see the recording's 'connections')")
            }
            let after = try Self.integer(request, "after", default: 0, range: 0...Int.max)
            let limit = try Self.integer(request, "limit", default: 500, range: 1...RecordingBrowser.maxPage)
            return try api.recordings.frames(named: context.parameters.get("name") ?? "", connection: id, after: Int64(after), limit: limit)
        }
    }

    /// One of the page's files, or 404.
    static func file(_ name: String) -> Response {
        guard let type = files[name], let body = contents[name] else {
            return ControlAPI.json(["error": "not_found", "message": .string("no dashboard file named \(Value.string(name).jsonString)")], status: .notFound)
        }
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-cache"]
        // Only this origin's own files: the page works offline and runs nothing from elsewhere.
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// The query parameter `name` as an integer within `range`, else `value`; 400 when malformed.
    static func integer(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let n = Int(text), range.contains(n) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw ControlAPI.Failure.badRequest("'\(name)' must be an integer \(bound) (got \(Value.string(text).jsonString))")
        }
        return n
    }
}
