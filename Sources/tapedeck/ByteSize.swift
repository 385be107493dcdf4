import ArgumentParser
import Foundation

/// A size on the command line: bytes (`65536`) or with a unit (`64KiB`, `16MiB`, `1GiB`; `KB`,
/// `MB`, `GB` are the same powers of 1024).
struct ByteSize: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let digits = text.prefix { $0.isNumber }
        let unit = text.dropFirst(digits.count).lowercased()
        guard let n = Int(digits), n > 0 else { return nil }
        let scale: Int
        switch unit {
        case "", "b": scale = 1
        case "k", "kb", "kib": scale = 1 << 10
        case "m", "mb", "mib": scale = 1 << 20
        case "g", "gb", "gib": scale = 1 << 30
        default: return nil
        }
        let (product, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        bytes = product
    }

    var description: String {
        for (unit, scale) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        return "\(bytes)"
    }

    var defaultValueDescription: String { description }
}
