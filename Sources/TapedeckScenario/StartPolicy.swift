/// When a timeline starts playing: the same rule for every profile.
///
/// - `firstMessage` (the default): when a client first sends a message (any message: a subscribe,
///   a ping, ...), or `grace` seconds (2) after the first client connected if none has sent one.
/// - `firstConnection`: when the first client connects.
/// - `immediately`: as soon as the server is ready.
///
/// A scenario chooses with `start: first-message | first-connection | immediately`; the command
/// line's `--start` overrides it.
public enum StartPolicy: String, Sendable, CaseIterable {
    case immediately
    case firstConnection = "first-connection"
    case firstMessage = "first-message"

    @available(*, deprecated, renamed: "firstMessage")
    public static var firstSubscription: StartPolicy { .firstMessage }
}
