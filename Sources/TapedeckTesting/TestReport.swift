import TapedeckCore
import TapedeckScenario
import Foundation

/// The results of a whole run: text lines, the summary, the exit code and JUnit XML.
public struct TestReport: Sendable {
    public var files: [FileResult]

    public init(files: [FileResult]) { self.files = files }

    public var passed: Int { files.reduce(0) { $0 + $1.results.filter(\.passed).count } }
    public var failed: Int { files.reduce(0) { $0 + $1.results.filter { $0.failure != nil }.count } }
    public var skipped: Int {
        files.reduce(0) { $0 + $1.results.filter { if case .skipped = $0.outcome { true } else { false } }.count }
    }
    /// Files that could not run.
    public var errors: Int { files.filter { $0.error != nil }.count }

    /// `N passed, N failed`, with `, N skipped` when any test was skipped.
    public var summary: String {
        "\(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : "")
    }

    /// 2 when a file could not run, 1 when a test failed, else 0.
    public var exitCode: Int32 { errors > 0 ? 2 : failed > 0 ? 1 : 0 }

    /// The text lines for one file: its name, a line per test with its time, failures in full.
    public static func lines(for file: FileResult) -> [String] {
        var lines = [file.scenario.isEmpty ? file.file : "\(file.file) (\(file.scenario))"]
        if let error = file.error {
            lines.append("  ERROR  the scenario does not load:")
            lines += error.split(separator: "\n").map { "    " + $0 }
            return lines
        }
        if file.results.isEmpty { lines.append("  (no test selected)") }
        for r in file.results {
            switch r.outcome {
            case .passed:
                lines.append("  pass  \(r.name)  \(timing(r))")
            case .skipped(let reason):
                lines.append("  skip  \(r.name)  (\(reason))")
            case .failed(let f):
                lines.append("  FAIL  \(r.name)  \(timing(r))")
                lines += f.description.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }
            }
        }
        return lines
    }

    static func timing(_ r: TestResult) -> String {
        let wall = r.seconds < 1 ? "\(Int((r.seconds * 1000).rounded())) ms" : String(format: "%.2f s", r.seconds)
        let gap = abs(r.scenarioSeconds - r.seconds) > 0.5
        return gap ? "(\(wall); scenario time \(String(format: "%.1f", r.scenarioSeconds)) s)" : "(\(wall))"
    }

    /// A JUnit XML report: a `testsuite` per file, a `testcase` per test; failures carry the step's
    /// location, the expected pattern and what arrived; a file that does not load is an `error`.
    public func junitXML() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let total = files.reduce(0) { $0 + $1.results.count } + errors
        let time = files.reduce(0) { $0 + $1.seconds }
        out += "<testsuites name=\"tapedeck test\" tests=\"\(total)\" failures=\"\(failed)\" errors=\"\(errors)\" skipped=\"\(skipped)\" time=\"\(Self.seconds(time))\">\n"
        for file in files {
            let name = Self.escape(file.file)
            let fileFailed = file.results.filter { $0.failure != nil }.count
            let fileSkipped = file.results.filter { if case .skipped = $0.outcome { true } else { false } }.count
            let fileErrors = file.error == nil ? 0 : 1
            out += "  <testsuite name=\"\(name)\" tests=\"\(file.results.count + fileErrors)\" failures=\"\(fileFailed)\" errors=\"\(fileErrors)\" skipped=\"\(fileSkipped)\" time=\"\(Self.seconds(file.seconds))\">\n"
            if let error = file.error {
                out += "    <testcase name=\"load\" classname=\"\(name)\" file=\"\(name)\" time=\"0\">\n"
                out += "      <error message=\"the scenario does not load\">\(Self.escape(error))</error>\n"
                out += "    </testcase>\n"
            }
            let classname = Self.escape(file.scenario.isEmpty ? file.file : file.scenario)
            for r in file.results {
                out += "    <testcase name=\"\(Self.escape(r.name))\" classname=\"\(classname)\" file=\"\(name)\" line=\"\(r.location.line)\" time=\"\(Self.seconds(r.seconds))\""
                switch r.outcome {
                case .passed:
                    out += "/>\n"
                case .skipped(let reason):
                    out += ">\n      <skipped message=\"\(Self.escape(reason))\"/>\n    </testcase>\n"
                case .failed(let f):
                    out += ">\n      <failure message=\"\(Self.escape("\(f.location): \(f.step): \(f.message)"))\" type=\"\(f.step)\">\(Self.escape(f.description))</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }

    static func seconds(_ s: Double) -> String { String(format: "%.3f", s) }

    static func escape(_ s: String) -> String { XMLText.escape(s) }
}
