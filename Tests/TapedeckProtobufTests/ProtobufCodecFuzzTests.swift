import Testing
import TapedeckCore
import TapedeckProtobuf

/// Seeded random mutations, truncations and garbage: every input gives a value or a
/// `ProtobufError`, never a crash or a hang. Whatever decodes must re-encode and decode
/// to the same value.
@Suite struct ProtobufCodecFuzzTests {
    /// SplitMix64: deterministic, independent of the platform's random generator.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds: [String] = ProtobufCodecRoundTripTests.workitemsCorpus

    struct Outcome {
        var decoded = 0
        var failed = 0
    }

    /// Decodes `bytes`; if that works, checks that the value survives encode + decode.
    func check(_ codec: ProtobufCodec, _ bytes: [UInt8], _ outcome: inout Outcome) {
        do {
            let value = try codec.decode(bytes)
            outcome.decoded += 1
            do {
                let again = try codec.decode(try codec.encode(value))
                #expect(again == value, "unstable round trip for \(hex(bytes))")
            } catch {
                Issue.record("decoded \(hex(bytes)) but could not re-encode: \(error)")
            }
        } catch {
            outcome.failed += 1
            #expect(!error.description.isEmpty)
        }
    }

    @Test func mutatedWorkitemsFrames() throws {
        let codec = try Fixtures.workitems()
        let frames = try Self.seeds.map { try codec.encode(try json($0)) }
        var rng = SeededRandom(state: 20_261_121)
        var outcome = Outcome()
        for _ in 0..<4000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &rng)]
            let mutations = Int.random(in: 1...4, using: &rng)
            for _ in 0..<mutations {
                switch Int.random(in: 0..<6, using: &rng) {
                case 0 where !bytes.isEmpty:  // flip a bit
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 1 where !bytes.isEmpty:  // replace a byte
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 2:  // truncate
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
                case 3:  // insert a random byte
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                case 4 where !bytes.isEmpty:  // delete a byte
                    bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
                default:  // append another frame (concatenation = merge)
                    bytes += frames[Int.random(in: 0..<frames.count, using: &rng)]
                }
            }
            check(codec, bytes, &outcome)
        }
        // Both outcomes must actually occur, or the test exercises nothing.
        #expect(outcome.decoded > 200)
        #expect(outcome.failed > 200)
    }

    @Test func everyTruncationOfEveryFrame() throws {
        let codec = try Fixtures.workitems()
        var outcome = Outcome()
        for text in Self.seeds {
            let frame = try codec.encode(try json(text))
            for n in 0..<frame.count { check(codec, Array(frame.prefix(n)), &outcome) }
        }
        #expect(outcome.failed > 100)
    }

    @Test func randomBytesAgainstEveryFeature() throws {
        let codec = try Fixtures.everything()
        var rng = SeededRandom(state: 42)
        var outcome = Outcome()
        for _ in 0..<4000 {
            let count = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            check(codec, bytes, &outcome)
        }
        #expect(outcome.failed > 1000)
    }

    @Test func mutatedEverythingFrames() throws {
        let codec = try Fixtures.everything()
        let frames = try ProtobufCodecRoundTripTests.everythingCorpus.map { try codec.encode(try json($0)) }
        var rng = SeededRandom(state: 7)
        var outcome = Outcome()
        for _ in 0..<4000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                if Bool.random(using: &rng) {
                    bytes[i] = UInt8.random(in: 0...255, using: &rng)
                } else {
                    bytes = Array(bytes.prefix(i))
                }
            }
            check(codec, bytes, &outcome)
        }
        #expect(outcome.decoded > 200)
        #expect(outcome.failed > 200)
    }

    /// Every message type of the test schema (well-known types included) as the root type,
    /// fed random bytes built from plausible tags, so values reach every decoder.
    @Test func randomFieldsForEveryMessageType() throws {
        let pool = try #require(Fixtures.testPool)
        var rng = SeededRandom(state: 99)
        var outcome = Outcome()
        for type in pool.messageTypeNames {
            let codec = try ProtobufCodec(pool: pool, messageType: type)
            for _ in 0..<150 {
                var w = WireWriterHelper()
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let field = Int.random(in: 1...6, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0:
                        w.tag(field, 0)
                        // Extremes matter: Int64.min, UInt64.max, Int32 bounds.
                        w.varint([0, 1, UInt64.max, 1 << 63, UInt64(bitPattern: Int64(Int32.min)), 0x7FFF_FFFF,
                                  UInt64.random(in: 0...UInt64.max, using: &rng)].randomElement(using: &rng) ?? 0)
                    case 1:
                        w.tag(field, 1)
                        w.bytes += (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    case 2:
                        w.tag(field, 5)
                        w.bytes += (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    default:
                        let n = Int.random(in: 0..<6, using: &rng)
                        w.tag(field, 2)
                        w.varint(UInt64(n))
                        w.bytes += (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    }
                }
                check(codec, w.bytes, &outcome)
            }
        }
        #expect(outcome.decoded > 500)
        #expect(outcome.failed > 500)
    }

    @Test func hugeLengthPrefixesDoNotAllocate() throws {
        let codec = try Fixtures.workitems()
        // message_id with a length of 2^63 - 1 and of 2^32.
        for frame in [unhex("0affffffffffffffff7f"), unhex("0a8080808010"), unhex("0aff")] {
            #expect(throws: ProtobufError.self) { try codec.decode(frame) }
        }
    }
}
