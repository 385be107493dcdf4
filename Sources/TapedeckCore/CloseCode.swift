/// WebSocket close codes (RFC 6455 7.4), shared by the simulator, the recorder and replay.
public enum CloseCode {
    /// Whether a peer may put `code` in a close frame: 1000-1003, 1007-1014 and 3000-4999
    /// (1004-1006 and 1015 are reserved, the rest unassigned).
    public static func mayBeSent(_ code: Int) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }
}
