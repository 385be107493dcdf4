// swift-tools-version: 6.0
import Foundation
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tapedeck",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tapedeck", targets: ["tapedeck"]),
        .library(name: "TapedeckCore", targets: ["TapedeckCore"]),
        .library(name: "TapedeckScenario", targets: ["TapedeckScenario"]),
        .library(name: "TapedeckProtocol", targets: ["TapedeckProtocol"]),
        .library(name: "TapedeckProtobuf", targets: ["TapedeckProtobuf"]),
        .library(name: "TapedeckServer", targets: ["TapedeckServer"]),
        .library(name: "TapedeckRecording", targets: ["TapedeckRecording"]),
        .library(name: "TapedeckHandshake", targets: ["TapedeckHandshake"]),
        .library(name: "TapedeckDiff", targets: ["TapedeckDiff"]),
        .library(name: "TapedeckReplay", targets: ["TapedeckReplay"]),
        .library(name: "TapedeckTesting", targets: ["TapedeckTesting"]),
        .library(name: "TapedeckBench", targets: ["TapedeckBench"]),
        .library(name: "TapedeckCompression", targets: ["TapedeckCompression"]),
        .library(name: "TapedeckConformance", targets: ["TapedeckConformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.2.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.0.0"),
        // Tests only: forged JWTs (HMAC over a header that names another algorithm).
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The command line: thin ArgumentParser commands over the libraries.
        .executableTarget(
            name: "tapedeck",
            dependencies: [
                "TapedeckCore", "TapedeckScenario", "TapedeckProtocol", "TapedeckProtobuf", "TapedeckServer", "TapedeckRecording",
                "TapedeckDiff", "TapedeckReplay", "TapedeckTesting", "TapedeckBench", "TapedeckConformance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Value (ordered JSON), expressions and templates, patterns, clocks, seeded randomness.
        .target(
            name: "TapedeckCore",
            dependencies: [
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // YAML -> scenario model with source locations; validation; the lazy merged timeline.
        .target(
            name: "TapedeckScenario",
            dependencies: [
                "TapedeckCore",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Descriptor-driven protobuf codec: binary <-> Value through the proto3 JSON mapping.
        .target(
            name: "TapedeckProtobuf",
            dependencies: [
                "TapedeckCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Profile model and loader, built-in profiles, codecs, auth.
        .target(
            name: "TapedeckProtocol",
            dependencies: [
                "TapedeckCompression",
                "TapedeckCore", "TapedeckScenario", "TapedeckProtobuf",
                .product(name: "Yams", package: "Yams"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            resources: [.copy("Profiles")],
            swiftSettings: swiftSettings
        ),
        // What the simulator and the recording proxy share in front of a WebSocket upgrade: the
        // handshake guard (timeout, unreadable or oversized requests), the RFC 6455 request check,
        // the origin allow-list.
        .target(
            name: "TapedeckHandshake",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The simulator: upgrade and auth, connections, scheduler, fan-out, heartbeat, limits.
        .target(
            name: "TapedeckServer",
            dependencies: [
                "TapedeckCompression",
                "TapedeckCore", "TapedeckScenario", "TapedeckProtocol", "TapedeckHandshake",
                // The dashboard's recording viewer reads recordings.
                "TapedeckRecording",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        // SQLite recordings (GRDB): schema, batched writer, reader, JSONL export/import, recorder proxy.
        .target(
            name: "TapedeckRecording",
            dependencies: [
                "TapedeckCompression",
                "TapedeckCore", "TapedeckHandshake",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Alignment and structural diff of recordings; ignore rules; reports (text, JSON, JUnit, HTML).
        .target(
            name: "TapedeckDiff",
            dependencies: [
                "TapedeckCore", "TapedeckRecording", "TapedeckProtocol", "TapedeckProtobuf",
                .product(name: "Yams", package: "Yams"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Replay engines: a recording served to live clients, or played as a client against a server.
        .target(
            name: "TapedeckReplay",
            dependencies: [
                "TapedeckCore", "TapedeckRecording", "TapedeckProtocol", "TapedeckDiff",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Scenario test runner: client scripts, expectations on the manual clock, golden recordings
        // (the simulator tapped into a recording, diffed against the golden one), reports (text, JUnit).
        .target(
            name: "TapedeckTesting",
            dependencies: [
                "TapedeckCore", "TapedeckScenario", "TapedeckProtocol", "TapedeckProtobuf", "TapedeckServer",
                "TapedeckRecording", "TapedeckDiff",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Load generator: N WebSocket clients on one NIO event loop group; rates, connect and one-way latency
        // percentiles (HdrHistogram), the target process's CPU and memory; table and JSON reports.
        .target(
            name: "TapedeckBench",
            dependencies: [
                "TapedeckCore", "TapedeckRecording",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Client conformance: a checker of the profile's client rules fed by observations (the
        // simulator's tap, a recording, or a test), and its reports (text, JSON, JUnit).
        .target(
            name: "TapedeckConformance",
            dependencies: [
                "TapedeckCore", "TapedeckProtocol", "TapedeckServer", "TapedeckRecording",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckConformanceTests",
            dependencies: ["TapedeckConformance", "TapedeckProtocol", "TapedeckCore", "TapedeckScenario", "TapedeckServer"],
            swiftSettings: swiftSettings
        ),
        // permessage-deflate (RFC 7692): negotiation, and compressing and decompressing messages within limits.
        .target(
            name: "TapedeckCompression",
            dependencies: [
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckCompressionTests",
            dependencies: ["TapedeckCompression", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TapedeckCoreTests", dependencies: ["TapedeckCore", .product(name: "OrderedCollections", package: "swift-collections")], swiftSettings: swiftSettings),
        .testTarget(name: "TapedeckScenarioTests", dependencies: ["TapedeckScenario", "TapedeckCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TapedeckProtobufTests", dependencies: ["TapedeckProtobuf"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "TapedeckProtocolTests",
            dependencies: [
                "TapedeckProtocol", "TapedeckCore", "TapedeckScenario", .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TapedeckServerTests",
            dependencies: [
                "TapedeckServer", "TapedeckCore", "TapedeckScenario", "TapedeckProtocol", "TapedeckRecording", "TapedeckTesting",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // NIO WebSocket peers shared by the recording and replay tests.
        .target(
            name: "TapedeckTestPeers",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tests/TapedeckTestPeers",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckRecordingTests",
            dependencies: [
                "TapedeckTestPeers",
                "TapedeckRecording", "TapedeckCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckDiffTests",
            dependencies: ["TapedeckDiff", "TapedeckRecording", "TapedeckCore", "TapedeckProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckReplayTests",
            dependencies: [
                "TapedeckTestPeers",
                "TapedeckReplay", "TapedeckRecording", "TapedeckCore", "TapedeckDiff", "TapedeckProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckBenchTests",
            dependencies: [
                "TapedeckBench", "TapedeckCore", "TapedeckRecording",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckTestingTests",
            dependencies: ["TapedeckTesting", "TapedeckScenario", "TapedeckCore"],
            swiftSettings: swiftSettings
        ),
    ]
)

// libFuzzer targets, for scripts/fuzz.sh only: declared when TAPEDECK_FUZZ is set, built with
// `-sanitize=fuzzer,address` in their own scratch path (.build-fuzz). Each one's main runs
// libFuzzer's driver (FuzzDriver declares it) with the target's callback.
if ProcessInfo.processInfo.environment["TAPEDECK_FUZZ"] != nil {
    func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
        .executableTarget(name: name, dependencies: ["FuzzDriver"] + dependencies, path: "Fuzz/\(name)", swiftSettings: swiftSettings)
    }
    package.targets += [
        .target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"),
        fuzzTarget("FuzzExpression", ["TapedeckCore"]),
        fuzzTarget("FuzzScenario", ["TapedeckScenario"]),
        fuzzTarget("FuzzProtobuf", ["TapedeckCore", "TapedeckProtobuf"]),
        fuzzTarget("FuzzJWT", ["TapedeckCore", "TapedeckProtocol"]),
        fuzzTarget(
            "FuzzFrames",
            [
                "TapedeckCore", "TapedeckScenario", "TapedeckServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
    ]
}
