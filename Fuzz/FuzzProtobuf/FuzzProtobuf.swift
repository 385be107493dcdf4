import TapedeckCore
import TapedeckProtobuf

/// The descriptor-driven protobuf codec on the workitems schema: any bytes decode to a value or a
/// `ProtobufError`; what decodes must encode and decode again to the same value.
nonisolated(unsafe) let codec: ProtobufCodec = {
    // Run from the repository's root (scripts/fuzz.sh does).
    let pool = try! DescriptorPool(contentsOf: "Sources/TapedeckProtocol/Profiles/workitems.pb")
    return try! ProtobufCodec(pool: pool, messageType: "workitems.v1.WebSocketMessage")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let value = try? codec.decode(bytes) else { return 0 }
    do {
        let again = try codec.decode(try codec.encode(value))
        precondition(again == value, "unstable round trip")
    } catch {
        preconditionFailure("decoded but could not re-encode: \(error)")
    }
    return 0
}
