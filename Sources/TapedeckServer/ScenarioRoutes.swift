import Foundation
import HTTPTypes
import TapedeckProtocol
import TapedeckCore
import TapedeckScenario

/// `/_tapedeck/scenarios`: what the shared timeline plays; load a scenario (a file on the server, or
/// YAML text) checked exactly as `tapedeck validate` checks it, and unload one.
///
/// A loaded scenario's time 0 is the shared timeline's scenario time when it is loaded. Its
/// profiles must be served already: endpoints are routed at start, so a scenario for another
/// profile is refused (409) and nothing changes.
struct ScenarioRoutes: Sendable {
    typealias Failure = ControlAPI.Failure

    let api: ControlAPI

    /// The file name posted YAML is checked as (its problems name it, with line and column).
    static let postedFile = "request.yaml"

    /// `GET /_tapedeck/scenarios`.
    func list() -> Value {
        [
            "timeline": api.library.mutable ? "shared" : "per-connection",
            "scenarios": .array(api.library.entries.map(describe)),
        ]
    }

    /// `POST /_tapedeck/scenarios` with `{"path": ...}` or `{"yaml": ...}`.
    func load(_ body: Value) throws -> Value {
        let outcome: ScenarioCheck.Outcome
        switch (body["path"], body["yaml"]) {
        case (.string(let path)?, nil) where !path.isEmpty:
            outcome = ScenarioCheck.check(file: path)
        case (nil, .string(let text)?):
            outcome = ScenarioCheck.check(text: text, file: Self.postedFile)
        default:
            throw Failure.badRequest("send one of 'path' (a scenario file on the server) or 'yaml' (the scenario's text), e.g. {\"path\": \"scenarios/x.yaml\"}")
        }
        if outcome.failed || outcome.world == nil {
            let problems = outcome.problems.filter { !$0.isWarning }
            throw Failure(
                status: .unprocessableContent, error: "invalid_scenario",
                message: problems.map(\.description).joined(separator: "\n"),
                details: ["problems": .array(problems.map(Self.problem))])
        }
        guard let world = outcome.world else { throw Failure.badRequest("the scenario did not load") }
        guard api.library.mutable else {
            throw Failure(
                status: .conflict, error: "per_connection_timelines",
                message: "this server plays one timeline per connection (--timeline per-connection): what each plays is fixed when it connects")
        }
        let scenario = outcome.scenario
        let missing = world.profileOrder.filter { api.world.profiles[$0] == nil }
        guard missing.isEmpty else {
            throw Failure(
                status: .conflict, error: "profile_not_served",
                message: "scenario '\(scenario.name)' uses \(missing.joined(separator: ", ")), which this server does not serve: "
                    + "profiles and their endpoints are fixed at start (serve a scenario that uses it); served: \(api.world.profileOrder.joined(separator: ", "))")
        }
        let offset = api.control.status.scenarioTime ?? 0
        guard
            let entry = api.library.add(
                scenario, offset: (offset * 1000).rounded() / 1000, profiles: world.profileOrder, aliases: world.aliases,
                defaultProfile: world.profileOrder.first)
        else {
            throw Failure(
                status: .conflict, error: "scenario_loaded",
                message: "a scenario named '\(scenario.name)' is already loaded: unload it first (DELETE /_tapedeck/scenarios/\(scenario.name))")
        }
        api.control.revise()
        var out = describe(entry)
        let warnings = outcome.problems.filter(\.isWarning)
        if !warnings.isEmpty { out["warnings"] = .array(warnings.map { .string($0.description) }) }
        return out
    }

    /// `DELETE /_tapedeck/scenarios/{name}`.
    func unload(_ raw: String) throws -> Value {
        let name = raw.removingPercentEncoding ?? raw
        guard api.library.mutable else {
            throw Failure(
                status: .conflict, error: "per_connection_timelines",
                message: "this server plays one timeline per connection (--timeline per-connection): what each plays is fixed when it connects")
        }
        guard let entry = api.library.remove(name) else {
            let names = api.library.entries.map(\.scenario.name)
            throw Failure(
                status: .notFound, error: "not_found",
                message: "no scenario named '\(name)' is loaded; loaded: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
        }
        api.control.revise()
        var out = describe(entry)
        out["unloaded"] = true
        return out
    }

    func describe(_ entry: ScenarioLibrary.Entry) -> Value {
        let s = entry.scenario
        var paths: [String] = []
        for p in entry.profiles {
            for e in api.world.profiles[p]?.profile.endpoints ?? [] where !paths.contains(e.path) { paths.append(e.path) }
        }
        return [
            "name": .string(s.name), "file": .string(s.file), "streams": .array(s.streams.map { .string($0.name) }),
            "profiles": .array(entry.profiles.map(Value.string)), "paths": .array(paths.map(Value.string)),
            "starts_at": .double(entry.offset), "loaded_at_start": .bool(entry.loadedAtStart), "loop": .bool(s.loop),
        ]
    }

    static func problem(_ e: ScenarioError) -> Value {
        [
            "file": .string(e.location.file), "line": .int(e.location.line), "column": .int(e.location.column),
            "message": .string(e.message),
        ]
    }
}
