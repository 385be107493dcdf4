public import TapedeckRecording

/// Builds the matcher a replay uses: the volatile fields of the recording's profile plus `--ignore` paths.
public enum ReplayMatchers {
    /// Fields that differ between any two sessions (times, request ids, credentials).
    static let volatileDefaults = [
        "$..timestamp", "$..ts", "$..time", "$..created_at", "$..updated_at", "$..sent_at", "$..request_id",
        "$..requestId", "$..token", "$..jwt",
    ]

    /// - Parameters:
    ///   - profiles: the profile name(s) of the recording (comma-separated), for their presets.
    ///   - ignore: more JSON paths to ignore.
    public static func make(profiles: String?, ignore: [String]) throws(ReplayError) -> any ReplayMatcher {
        var paths: [JSONPath] = []
        for text in volatileDefaults + ignore {
            do {
                paths.append(try JSONPath(parsing: text))
            } catch {
                throw .invalidArgument("--ignore \(text): \(error)")
            }
        }
        return StructuralMatcher(ignore: paths)
    }
}
