import Testing
@testable import TapedeckProtobuf
