/// A connection-level failure: no answer to the upgrade, or the connection could not be made.
struct TestConnectionError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
