extension FunctionLibrary {
    /// Durations written as some services write them, as template functions in the `duration.`
    /// namespace:
    ///
    /// | function | result |
    /// |---|---|
    /// | `duration.dhms(seconds)` | always days, hours, minutes and seconds, zeros included: `7d 23h 59m 59s`, `0d 2h 0m 5s`; whole seconds, a leading `-` when negative |
    static let durationFormatFunctions: [String: Function] = [
        "duration.dhms": Function(deterministic: true) { _, a in
            var rest = try whole(a.number(0))
            let negative = rest < 0
            rest = abs(rest)
            let parts = [(rest / 86400, "d"), ((rest / 3600) % 24, "h"), ((rest / 60) % 60, "m"), (rest % 60, "s")]
            return .string((negative ? "-" : "") + parts.map { "\($0.0)\($0.1)" }.joined(separator: " "))
        },
    ]
}
