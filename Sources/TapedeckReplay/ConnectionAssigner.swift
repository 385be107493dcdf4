public import TapedeckRecording

/// Decides which recorded connection a live client gets: the next one recorded on its path, in
/// recording order; a pinned one; or none (all used, or an unknown path). A pure value: the server
/// keeps it behind a lock.
public struct ConnectionAssigner: Sendable {
    /// The answer for one client.
    public enum Assignment: Sendable {
        case connection(StoredConnection)
        /// Every recorded connection on the path has been replayed (and `loop` is off).
        case exhausted(path: String, count: Int)
        /// Nothing was recorded on this path.
        case unknownPath(String, known: [String])
    }

    private var byPath: [String: [StoredConnection]] = [:]
    private var used: [String: Int] = [:]
    private let pinned: StoredConnection?
    public let loop: Bool
    /// The recorded paths, in the order they first appear.
    public let paths: [String]

    /// - Throws: when `pinned` names no connection of the recording.
    public init(connections: [StoredConnection], pinned: ConnectionID? = nil, loop: Bool = false) throws(ReplayError) {
        var paths: [String] = []
        for c in connections {
            if byPath[c.info.path] == nil { paths.append(c.info.path) }
            byPath[c.info.path, default: []].append(c)
        }
        if let pinned {
            guard let c = connections.first(where: { $0.id == pinned }) else {
                throw .invalidArgument("--connection \(pinned): the recording has connections \(connections.map(\.id.description).joined(separator: ", "))")
            }
            self.pinned = c
            self.paths = [c.info.path]
        } else {
            self.pinned = nil
            self.paths = paths
        }
        self.loop = loop
    }

    /// The connection for the next client on `path`.
    public mutating func assign(path: String) -> Assignment {
        if let pinned {
            return pinned.info.path == path ? .connection(pinned) : .unknownPath(path, known: paths)
        }
        guard let list = byPath[path], !list.isEmpty else { return .unknownPath(path, known: paths) }
        var n = used[path, default: 0]
        if n >= list.count {
            guard loop else { return .exhausted(path: path, count: list.count) }
            n = 0
        }
        used[path] = n + 1
        return .connection(list[n])
    }
}
