import Testing
@testable import TapedeckCore
