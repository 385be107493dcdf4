import Testing
@testable import TapedeckServer
