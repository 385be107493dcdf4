import Testing
@testable import TapedeckRecording
