import Testing
@testable import TapedeckProtocol
