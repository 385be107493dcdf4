import Testing
@testable import TapedeckScenario
