import Dispatch
import TapedeckCore
import TapedeckProtocol

/// The JWT path: any text as a token is verified or refused; any JSON object as claims, signed
/// with the right key, goes through a profile's identity and allow templates to an acceptance or
/// a refusal, never a crash.
final class Box<T>: @unchecked Sendable {
    var value: T?
}

func blocking<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
    let box = Box<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await work()
        done.signal()
    }
    done.wait()
    return box.value!
}

nonisolated(unsafe) let now = 1_737_109_800.0
nonisolated(unsafe) let authenticator = blocking { try! await Authenticator(issuer: nil, audience: nil, leeway: 30) }
nonisolated(unsafe) let checking = blocking { try! await Authenticator(issuer: "https://id.example", audience: "tapedeck") }
nonisolated(unsafe) let profiles = ["ops-control-center", "neurallog", "jobs-live-tail"].map { try! ProfileLoader().load($0) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    _ = blocking { await authenticator.verify(text, now: now) }
    _ = blocking { await checking.verify(text, now: now) }
    guard let claims = try? Value(json: text), claims.objectValue != nil else { return 0 }
    let token = blocking { try? await authenticator.mint(claims: claims, expiresIn: nil, now: now) }
    guard let token else { return 0 }
    for profile in profiles {
        let request = UpgradeRequest(
            uri: "/api/ws?token=\(token)", headers: [("Authorization", "Bearer \(token)"), ("Cookie", "session=\(token)"), ("Host", "api.acme.example.com")])
        _ = blocking { await authenticator.authenticate(request, profile: profile, endpoint: "stream", entities: [:], settings: [:], now: now) }
    }
    return 0
}
