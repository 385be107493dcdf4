public import TapedeckCore
public import TapedeckScenario

/// A named timer of a profile (`timers:`): rules and `on_connect` start, reset and cancel it
/// (`start_timer`, `reset_timer`, `cancel_timer`), and when it fires its actions run.
///
/// Deadlines come from the engine's clock: the server sleeps until ``ConnectionEngine/nextTickTime``,
/// never polls. The actions read `conn`, `subscriptions`, `settings`, `entities` and `timer`
/// (`{name, fired}`, `fired` counting from 1).
public struct TimerSpec: Sendable {
    public var name: String
    /// How long after it starts the timer first fires; `nil` (a template over settings that gives
    /// no positive duration) means the timer never runs.
    public var after: NumberSetting
    /// Fires again every this long after the first time, until cancelled.
    public var every: NumberSetting?
    /// Started when a connection opens (before `on_connect` runs).
    public var startOnConnect: Bool
    /// Client messages matching this pattern restart the timer if it is running (an idle timeout).
    public var resetOn: Pattern?
    /// What to do when it fires.
    public var actions: Actions
    public var location: SourceLocation

    public init(
        name: String, after: NumberSetting, every: NumberSetting? = nil, startOnConnect: Bool = false, resetOn: Pattern? = nil,
        actions: Actions, location: SourceLocation
    ) {
        self.name = name
        self.after = after
        self.every = every
        self.startOnConnect = startOnConnect
        self.resetOn = resetOn
        self.actions = actions
        self.location = location
    }
}
