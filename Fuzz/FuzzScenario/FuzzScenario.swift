import TapedeckScenario

/// The scenario loader (YAML through Yams nodes, with depth and alias budgets): any bytes give a
/// scenario or scenario errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    _ = try? ScenarioLoader().load(text: text, file: "fuzz.yaml")
    return 0
}
