/// A refused upgrade: the HTTP response the profile asks for (401, 403, 404, 429, ...).
struct UpgradeRefusal: Sendable {
    var status: Int
    var body: [UInt8]
    var contentType: String
    /// More response headers (`www-authenticate` on a 401).
    var extraHeaders: [(String, String)]
}
