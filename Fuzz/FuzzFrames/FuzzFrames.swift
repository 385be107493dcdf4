import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TapedeckCore
import TapedeckScenario
import TapedeckServer

/// The simulator's whole inbound path on a real socket: the HTTP request and upgrade, then NIO's
/// frame decoder and the connection handler's own checks (masking, opcodes, fragments, UTF-8,
/// sizes, closes). Each input is one connection: the first byte picks a valid upgrade or the input
/// as the request itself; the rest is sent as it is. The server runs in this process, so a crash
/// in it is the fuzzer's finding.
final class Box<T>: @unchecked Sendable {
    var value: T?
}

nonisolated(unsafe) let port: Int = {
    let scenario = try! ScenarioLoader().load(text: "scenario: echo\nprofile: echo\nstreams: []\n", file: "echo.yaml")
    let world = try! SimulatorWorld(scenarios: [scenario])
    var configuration = SimulatorConfiguration(host: "127.0.0.1", port: 0)
    configuration.maxMessageSize = 64 << 10
    configuration.handshakeTimeout = .seconds(1)
    configuration.closeTimeout = .milliseconds(200)
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    let box = Box<Int>()
    let ready = DispatchSemaphore(value: 0)
    let server = SimulatorServer(world: world, configuration: configuration, logger: logger) { _, port in
        box.value = port
        ready.signal()
    }
    Task.detached { try? await ServiceGroup(services: [server], logger: logger).run() }
    ready.wait()
    return box.value!
}()

nonisolated(unsafe) let upgrade = Array(
    ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)

/// One connection: write `bytes`, read until the server closes or 20 ms pass without a byte.
func exchange(_ bytes: [UInt8]) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return }
    var timeout = timeval(tv_sec: 0, tv_usec: 20_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while recv(fd, &buffer, buffer.count, 0) > 0 {}
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    guard let first = input.first else { return 0 }
    // Mostly frames after a valid upgrade; one input in eight is the request itself.
    exchange(first & 7 == 0 ? Array(input.dropFirst()) : upgrade + input.dropFirst())
    return 0
}
