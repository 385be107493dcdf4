import TapedeckCompression
import TapedeckScenario
import Yams

/// The profile key `compression`.
extension ProfileReader {
    /// `compression: { permessage_deflate: true | false | { server_no_context_takeover, client_no_context_takeover,
    /// server_max_window_bits, client_max_window_bits, min_size } }`.
    func compression(_ n: Node) -> DeflateSettings? {
        let r = reader
        guard let pairs = r.mapping(n, what: "'compression'", allowed: ["permessage_deflate"]) else { return nil }
        guard let v = pairs.first(where: { $0.key == "permessage_deflate" })?.value else { return nil }
        if case .scalar = v {
            return r.bool(v, what: "'permessage_deflate'") == true ? DeflateSettings() : nil
        }
        let allowed = ["server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits", "min_size"]
        guard let keys = r.mapping(v, what: "'permessage_deflate'", allowed: allowed) else { return nil }
        var settings = DeflateSettings()
        for (key, _, value) in keys {
            switch key {
            case "server_no_context_takeover": settings.serverNoContextTakeover = r.bool(value, what: "'\(key)'") ?? false
            case "client_no_context_takeover": settings.clientNoContextTakeover = r.bool(value, what: "'\(key)'") ?? false
            case "server_max_window_bits", "client_max_window_bits":
                guard let bits = r.integer(value, what: "'\(key)'") else { continue }
                let range = key == "server_max_window_bits" ? 9...15 : 8...15
                guard range.contains(bits) else {
                    r.error("'\(key)' is \(range.lowerBound) to \(range.upperBound)\(key.hasPrefix("server") ? " (zlib cannot compress with a window of 8 bits)" : "")", at: value)
                    continue
                }
                if key == "server_max_window_bits" { settings.serverMaxWindowBits = bits } else { settings.clientMaxWindowBits = bits }
            default:
                guard let size = r.integer(value, what: "'min_size'") else { continue }
                guard size >= 0 else { r.error("'min_size' is a number of bytes, 0 or more", at: value); continue }
                settings.minimumSize = size
            }
        }
        return settings
    }
}
