/// An error from the recording store, the writer or the recorder proxy.
public struct RecordingError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case alreadyExists(String)
        case notARecording(String)
        case writerFinished
        case writerFailed(String)
        case unknownConnection(Int64)
        case invalidJSONL(line: Int, message: String)
        case invalidArgument(String)
        case proxy(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// The output file exists already and overwriting was not requested.
    public static func alreadyExists(_ path: String) -> RecordingError { .init(.alreadyExists(path)) }
    /// The file is not a Tapedeck recording (or a newer format this version cannot read).
    public static func notARecording(_ path: String) -> RecordingError { .init(.notARecording(path)) }
    /// The writer was used after `finish()`.
    public static var writerFinished: RecordingError { .init(.writerFinished) }
    /// A batch could not be committed; nothing after the last acknowledged batch is stored.
    public static func writerFailed(_ message: String) -> RecordingError { .init(.writerFailed(message)) }
    /// A frame or close referred to a connection the writer never began.
    public static func unknownConnection(_ id: Int64) -> RecordingError { .init(.unknownConnection(id)) }
    /// A JSONL export line could not be imported.
    public static func invalidJSONL(line: Int, message: String) -> RecordingError {
        .init(.invalidJSONL(line: line, message: message))
    }
    /// A command-line or configuration value is invalid.
    public static func invalidArgument(_ message: String) -> RecordingError { .init(.invalidArgument(message)) }
    /// The recorder proxy could not start or relay.
    public static func proxy(_ message: String) -> RecordingError { .init(.proxy(message)) }

    public var description: String {
        switch kind {
        case .alreadyExists(let p): "\(p) exists already (pass --force to overwrite)"
        case .notARecording(let p): "\(p) is not a Tapedeck recording"
        case .writerFinished: "the recording writer is finished"
        case .writerFailed(let m): "the recording writer failed: \(m)"
        case .unknownConnection(let id): "unknown connection \(id)"
        case .invalidJSONL(let line, let m): "line \(line): \(m)"
        case .invalidArgument(let m): m
        case .proxy(let m): "proxy: \(m)"
        }
    }
}
