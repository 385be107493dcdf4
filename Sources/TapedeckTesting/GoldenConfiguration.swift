import Foundation
public import TapedeckScenario

/// Where `tapedeck test --golden` keeps golden recordings, and how a run is compared with them.
///
/// A run with golden recordings taps every in-process simulator of a scenario file into one
/// recording (the connections of its tests, in test order), then diffs it against the file's golden
/// recording under the diff's rules: the profile's `diff:` preset, a `.tapedeck-diff.yaml` beside the
/// golden file, then `ignore`. With `update`, the run's recording replaces the golden one instead.
///
/// ```swift
/// let golden = GoldenConfiguration(location: .directory("recordings/golden"), ignore: ["$.data.id"])
/// golden.path(for: scenario)   // "recordings/golden/ops-control-center-regression.sqlite"
/// ```
public struct GoldenConfiguration: Sendable {
    /// Where the golden recordings are.
    public enum Location: Sendable, Hashable {
        /// One recording, for a run of a single scenario file.
        case file(String)
        /// One recording per scenario file: `DIR/<scenario name>.sqlite`.
        case directory(String)
    }

    public var location: Location
    /// Write the run's recording as the golden one instead of comparing (only when every test passed).
    public var update: Bool
    /// Extra ignore rules, as `tapedeck diff --ignore` takes them (JSON paths, named patterns, `re:REGEX`).
    public var ignore: [String]

    public init(location: Location, update: Bool = false, ignore: [String] = []) {
        self.location = location
        self.update = update
        self.ignore = ignore
    }

    /// The golden recording of a scenario.
    public func path(for scenario: Scenario) -> String {
        switch location {
        case .file(let path): return path
        case .directory(let dir): return (dir as NSString).appendingPathComponent(Self.fileName(for: scenario.name))
        }
    }

    /// `<scenario name>.sqlite`, with characters that do not belong in a file name replaced by `-`.
    static func fileName(for scenario: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        let name = String(String.UnicodeScalarView(scenario.unicodeScalars.map { allowed.contains($0) ? $0 : "-" }))
        return (name.isEmpty || name.hasPrefix(".") ? "scenario" + name : name) + ".sqlite"
    }
}
