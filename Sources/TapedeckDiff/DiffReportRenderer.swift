public import TapedeckCore
import OrderedCollections
import TapedeckCore
import TapedeckProtocol
import TapedeckRecording

/// Renders a `RecordingDiff` as text (for terminals and CI logs), JSON, JUnit XML or a self-contained HTML page.
public enum DiffReportRenderer {
    /// The output formats.
    public enum Format: String, Sendable, CaseIterable {
        case text, json, junit, html
    }

    /// Renders in `format`; `color` applies to text only.
    public static func render(_ diff: RecordingDiff, format: Format, color: Bool = false) -> String {
        switch format {
        case .text: text(diff, color: color)
        case .json: json(diff).prettyJSONString + "\n"
        case .junit: junit(diff)
        case .html: html(diff)
        }
    }

    /// One line saying whether the recordings differ: `recordings differ: 3 differences in 1 of 2 connections`.
    public static func headline(_ diff: RecordingDiff) -> String {
        let differing = diff.connections.filter { !$0.isEqual }.count
        if diff.isEqual {
            return "recordings are equal under the rules (\(diff.connections.count) connection\(plural(diff.connections.count)), \(diff.expected.messages) messages)"
        }
        return "recordings differ: \(diff.differenceCount) difference\(plural(diff.differenceCount)) in \(differing) of \(diff.connections.count) connection\(plural(diff.connections.count))"
    }

    static func plural(_ n: Int) -> String { n == 1 ? "" : "s" }

    static func sideLine(_ s: RecordingSide) -> String {
        var parts = [s.name]
        if let p = s.profile { parts.append("profile \(p)") }
        parts.append("\(s.connections) connection\(plural(s.connections))")
        parts.append("\(s.messages) message\(plural(s.messages))")
        return "\(s.path) (\(parts.joined(separator: ", ")))"
    }

    static func timingLine(_ t: TimingSummary, tolerance: Int64?) -> String {
        guard t.samples > 0 else { return "no paired messages to time" }
        var out = "drift p50 \(TimingSummary.format(nanos: t.p50Nanos)), p99 \(TimingSummary.format(nanos: t.p99Nanos)), max \(TimingSummary.format(nanos: t.maxNanos))"
        if let tolerance { out += "; \(t.overTolerance) gap\(plural(t.overTolerance)) over \(TimingSummary.format(nanos: tolerance))" }
        return out
    }

    // MARK: Text

    /// Plain text; with `color`, ANSI colours (red for differences, green for equal connections).
    public static func text(_ diff: RecordingDiff, color: Bool) -> String {
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        var lines: [String] = []
        lines.append(paint("tapedeck diff: " + headline(diff), diff.isEqual ? "32;1" : "31;1"))
        lines.append("  expected: " + sideLine(diff.expected))
        lines.append("  actual:   " + sideLine(diff.actual))
        lines.append("  rules:    " + diff.rules.summary)
        if diff.match != .pathAndOrder { lines.append("  pairing:  \(diff.match)") }
        for note in diff.notes { lines.append(paint("  note: \(note)", "33")) }
        lines.append("")
        for c in diff.connections {
            let counts = "\(c.expectedMessages)↔\(c.actualMessages) messages, \(c.matchedMessages) paired"
            if c.isEqual {
                lines.append(paint("✓ \(c.label)", "32") + "  \(counts), equal; " + timingLine(c.timing, tolerance: diff.timingToleranceNanos))
                continue
            }
            lines.append(paint("✗ \(c.label)", "31;1") + "  \(counts), \(c.differenceCount) difference\(plural(c.differenceCount)); " + timingLine(c.timing, tolerance: diff.timingToleranceNanos))
            for f in c.findings {
                lines.append("    " + findingLine(f, paint: paint))
            }
            if c.omittedFindings > 0 { lines.append(paint("    … and \(c.omittedFindings) more", "2")) }
        }
        lines.append("")
        lines.append(diff.isEqual ? paint("OK: equal under the rules (exit 0)", "32;1") : paint("FAIL: \(diff.differenceCount) difference\(plural(diff.differenceCount)) (exit 1)", "31;1"))
        return lines.joined(separator: "\n") + "\n"
    }

    static func findingLine(_ f: DiffFinding, paint: (String, String) -> String) -> String {
        let e = f.expected.map { ValueDifference.short($0, limit: 120) } ?? "(none)"
        let a = f.actual.map { ValueDifference.short($0, limit: 120) } ?? "(none)"
        var out = f.location
        if let p = f.path { out += " " + paint(p.description, "36") }
        out += ": " + f.kind.label
        switch f.kind {
        case .messageAdded, .fieldAdded, .connectionAdded: out += " " + paint(a, "32")
        case .messageRemoved, .fieldRemoved, .connectionRemoved: out += " " + paint(e, "31")
        case .timing: break
        default: out += " " + paint(e, "31") + " -> " + paint(a, "32")
        }
        if let d = f.detail { out += paint(" (\(d))", "2") }
        return out
    }

    // MARK: JSON

    /// A JSON document: the headline, both sides, the rules, and per connection its findings and timing.
    public static func json(_ diff: RecordingDiff) -> Value {
        func side(_ s: RecordingSide) -> Value {
            ["path": .string(s.path), "name": .string(s.name), "profile": s.profile.map { .string($0) } ?? .null,
             "connections": .int(s.connections), "messages": .int(s.messages)]
        }
        func finding(_ f: DiffFinding) -> Value {
            var o: OrderedDictionary<String, Value> = ["kind": .string(f.kind.rawValue)]
            if let d = f.direction { o["direction"] = .string(d.rawValue) }
            if let i = f.expectedIndex { o["expected_index"] = .int(i) }
            if let i = f.actualIndex { o["actual_index"] = .int(i) }
            if let k = f.messageKey { o["message_key"] = .string(k) }
            if let p = f.path { o["path"] = .string(p.description) }
            if f.kind != .timing {
                o["expected"] = f.expected ?? .null
                o["actual"] = f.actual ?? .null
            }
            if let d = f.detail { o["detail"] = .string(d) }
            o["description"] = .string(f.description)
            return .object(o)
        }
        let connections: [Value] = diff.connections.map { c in
            [
                "label": .string(c.label), "path": .string(c.path),
                "expected_id": c.expectedID.map { .int(Int($0.rawValue)) } ?? .null,
                "actual_id": c.actualID.map { .int(Int($0.rawValue)) } ?? .null,
                "equal": .bool(c.isEqual), "differences": .int(c.differenceCount),
                "expected_messages": .int(c.expectedMessages), "actual_messages": .int(c.actualMessages),
                "matched_messages": .int(c.matchedMessages),
                "timing": [
                    "samples": .int(c.timing.samples), "drift_p50_ms": .double(Double(c.timing.p50Nanos) / 1e6),
                    "drift_p99_ms": .double(Double(c.timing.p99Nanos) / 1e6), "drift_max_ms": .double(Double(c.timing.maxNanos) / 1e6),
                    "over_tolerance": .int(c.timing.overTolerance),
                ],
                "findings": .array(c.findings.map(finding)), "omitted_findings": .int(c.omittedFindings),
            ]
        }
        return [
            "equal": .bool(diff.isEqual), "differences": .int(diff.differenceCount), "summary": .string(headline(diff)),
            "expected": side(diff.expected), "actual": side(diff.actual),
            "rules": [
                "ignore": .array(diff.rules.ignoredPaths.map { .string($0.description) }),
                "ignore_values": .array(diff.rules.ignoredValues.map { .string($0.source) }),
                "key": .array((diff.rules.messageKey.isEmpty ? DiffRules.defaultMessageKey : diff.rules.messageKey).map { .string($0.description) }),
            ],
            "pairing": .string(diff.match.description),
            "timing_tolerance_ms": diff.timingToleranceNanos.map { .double(Double($0) / 1e6) } ?? .null,
            "notes": .array(diff.notes.map { .string($0) }),
            "connections": .array(connections),
        ]
    }

    // MARK: JUnit

    /// JUnit XML: one test case per connection, failing with its differences.
    public static func junit(_ diff: RecordingDiff) -> String {
        let failures = diff.connections.filter { !$0.isEqual }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"tapedeck diff\" tests=\"\(diff.connections.count)\" failures=\"\(failures)\">\n"
        out += "  <testsuite name=\"\(xml("\(diff.expected.name) vs \(diff.actual.name)"))\" tests=\"\(diff.connections.count)\" failures=\"\(failures)\" errors=\"0\">\n"
        out += "    <properties>\n"
        out += "      <property name=\"expected\" value=\"\(xml(diff.expected.path))\"/>\n"
        out += "      <property name=\"actual\" value=\"\(xml(diff.actual.path))\"/>\n"
        out += "      <property name=\"rules\" value=\"\(xml(diff.rules.summary))\"/>\n"
        out += "    </properties>\n"
        for c in diff.connections {
            out += "    <testcase classname=\"tapedeck.diff\" name=\"\(xml(c.label))\">\n"
            if !c.isEqual {
                var body = c.findings.map(\.description)
                if c.omittedFindings > 0 { body.append("… and \(c.omittedFindings) more") }
                out += "      <failure type=\"difference\" message=\"\(xml("\(c.differenceCount) difference\(plural(c.differenceCount))"))\">\(xml(body.joined(separator: "\n")))</failure>\n"
            }
            out += "      <system-out>\(xml("\(c.expectedMessages)↔\(c.actualMessages) messages, \(c.matchedMessages) paired; " + timingLine(c.timing, tolerance: diff.timingToleranceNanos)))</system-out>\n"
            out += "    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    /// Escapes text for XML and HTML.
    static func xml(_ s: String) -> String { XMLText.escape(s) }
}
