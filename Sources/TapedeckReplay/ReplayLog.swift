import Foundation
import Logging
import TapedeckRecording

/// Turns replay events into log lines a user can act on.
enum ReplayLog {
    static func log(_ event: ReplayEvent, label: String, peerName: String, logger: Logger) {
        switch event {
        case .matched(let step, let message):
            logger.debug("\(label): \(peerName) message matched step \(step): \(message.preview)")
        case .mismatch(_, let expected, let actual, let difference):
            logger.warning(
                """
                \(label): \(peerName) message does not match the recording
                  expected: \(expected?.preview ?? "nothing")
                  arrived:  \(actual.preview)
                  first difference at \(difference.path): expected \(difference.expected), got \(difference.actual)
                """)
        case .received(let message):
            logger.info("\(label): \(peerName) sent \(message.preview)")
        case .timedOut(_, let expected, let after):
            logger.warning("\(label): no \(peerName) message matching \(expected.preview) within \(seconds(after))")
        case .peerClosed(let code, let reason, let early):
            let text = "\(label): \(peerName) closed with \(code.map(String.init) ?? "no code")" + (reason.map { $0.isEmpty ? "" : " \"\($0)\"" } ?? "")
            if early { logger.notice("\(text) before the recording was over") } else { logger.debug("\(text)") }
        case .peerDisconnected:
            logger.debug("\(label): \(peerName) socket closed")
        }
    }

    static func describe(_ outcome: ReplayOutcome) -> String {
        switch outcome {
        case .completed: "completed"
        case .peerLeft: "the peer left before the end of the recording"
        case .deviated(let why): "stopped: \(why)"
        case .stopped: "stopped"
        }
    }

    static func seconds(_ d: Duration) -> String {
        let c = d.components
        let s = Double(c.seconds) + Double(c.attoseconds) / 1e18
        return s < 10 ? String(format: "%.2fs", s) : String(format: "%.1fs", s)
    }
}
