import ArgumentParser
import Foundation
import TapedeckConformance
import TapedeckCore

/// Writes a conformance report's files (`--conformance`/`--json`, `--conformance-junit`/`--junit`).
enum ConformanceOutput {
    static func write(_ report: ConformanceReport, json: String?, junit: String?) throws {
        if let json {
            do { try Data((report.jsonValue.prettyJSONString + "\n").utf8).write(to: URL(fileURLWithPath: json)) } catch {
                throw ValidationError("cannot write the conformance report to \(json): \(error.localizedDescription)")
            }
        }
        if let junit {
            do { try Data(report.junitXML.utf8).write(to: URL(fileURLWithPath: junit)) } catch {
                throw ValidationError("cannot write the JUnit report to \(junit): \(error.localizedDescription)")
            }
        }
    }
}
