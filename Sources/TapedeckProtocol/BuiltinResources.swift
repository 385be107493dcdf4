import Foundation

/// Files shipped inside the binary: the built-in profiles and the demo scenarios.
public enum BuiltinResources {
    /// The demo scenarios served by `tapedeck serve` with no argument, one per built-in profile.
    public static var demoScenarios: [String] {
        guard let dir = Bundle.module.resourceURL?.appendingPathComponent("Profiles/demo") else { return [] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.sorted().map { dir.appendingPathComponent($0).path }
    }
}
