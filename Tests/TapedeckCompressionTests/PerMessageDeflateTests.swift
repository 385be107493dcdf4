import NIOCore
import TapedeckCompression
import Testing

@Suite("permessage-deflate negotiation (RFC 7692)")
struct DeflateNegotiationTests {
    func offers(_ header: String) -> [ExtensionOffer] { ExtensionOffer.parse(header) ?? [] }

    @Test("reads the header grammar: several offers, parameters with and without values, quoted values")
    func parsesOffers() {
        let parsed = ExtensionOffer.parse(#"permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-other , permessage-deflate"#)
        #expect(parsed?.count == 3)
        #expect(parsed?[0] == ExtensionOffer(name: "permessage-deflate", parameters: [("client_max_window_bits", nil), ("server_max_window_bits", "10")]))
        #expect(parsed?[1].name == "x-other")
        #expect(ExtensionOffer.parse("permessage-deflate; a=b c") == nil, "a value with a space is not a token")
        #expect(ExtensionOffer.parse(["permessage-deflate", "x; y=1"])?.count == 2, "a repeated header adds offers")
    }

    @Test("a plain offer is accepted as it is")
    func plainOffer() {
        let agreement = DeflateSettings().accept(offers("permessage-deflate"))
        #expect(agreement?.headerValue == "permessage-deflate")
        #expect(agreement?.serverMaxWindowBits == 15)
    }

    @Test("the server's own settings are stated in the response; client limits only where the client offered them")
    func settingsInTheResponse() {
        let settings = DeflateSettings(serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 10)
        #expect(settings.accept(offers("permessage-deflate"))?.headerValue
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12")
        #expect(settings.accept(offers("permessage-deflate; client_max_window_bits"))?.headerValue
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10")
        #expect(DeflateSettings().accept(offers("permessage-deflate; server_max_window_bits=11; client_max_window_bits=9"))?.headerValue
            == "permessage-deflate; server_max_window_bits=11; client_max_window_bits=9")
    }

    @Test("invalid offers are declined and the next one is tried")
    func invalidOffersAreDeclined() {
        for bad in [
            "permessage-deflate; unknown", "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010", "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1", "x-webkit-deflate-frame",
            // zlib cannot compress with a window of 8 bits.
            "permessage-deflate; server_max_window_bits=8",
        ] {
            #expect(DeflateSettings().accept(offers(bad)) == nil, "\(bad)")
        }
        let fallback = DeflateSettings().accept(offers("permessage-deflate; server_max_window_bits=8, permessage-deflate; client_no_context_takeover"))
        #expect(fallback?.headerValue == "permessage-deflate; client_no_context_takeover")
    }

    @Test("a client reads the server's response")
    func clientReadsTheResponse() {
        let a = DeflateAgreement(response: offers("permessage-deflate; server_no_context_takeover; client_max_window_bits=10"))
        #expect(a?.serverNoContextTakeover == true)
        #expect(a?.clientMaxWindowBits == 10)
        #expect(DeflateAgreement(response: offers("permessage-deflate; client_max_window_bits")) == nil, "a response must give the value")
        #expect(DeflateAgreement(response: []) == nil)
    }
}

@Suite("permessage-deflate messages")
struct DeflateMessageTests {
    let allocator = ByteBufferAllocator()

    @Test("matches RFC 7692's examples: 'Hello' alone, and again with the context kept")
    func rfcExamples() throws {
        let deflater = try MessageDeflater(windowBits: 15, noContextTakeover: false)
        let first = try deflater.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        let second = try deflater.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        #expect(Array(first.readableBytesView) == [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(Array(second.readableBytesView) == [0xF2, 0x00, 0x11, 0x00, 0x00])
        let inflater = try MessageInflater()
        #expect(String(buffer: try inflater.decompress(first, limit: 100, allocator: allocator)) == "Hello")
        #expect(String(buffer: try inflater.decompress(second, limit: 100, allocator: allocator)) == "Hello")
    }

    @Test("without context takeover every message stands alone")
    func noContextTakeover() throws {
        let deflater = try MessageDeflater(windowBits: 15, noContextTakeover: true)
        let a = try deflater.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        let b = try deflater.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        #expect(a == b)
        // A fresh inflater reads the second message without having seen the first.
        #expect(String(buffer: try MessageInflater().decompress(b, limit: 100, allocator: allocator)) == "Hello")
    }

    @Test("round trips large and empty messages, with every window size")
    func roundTrips() throws {
        let big = String(repeating: #"{"type":"metric","value":57.3,"host":"web-01"}"#, count: 5000)
        for bits in 9...15 {
            let deflater = try MessageDeflater(windowBits: bits, noContextTakeover: false)
            let inflater = try MessageInflater()
            for text in [big, "", "x", big] {
                let compressed = try deflater.compress(ByteBuffer(string: text), allocator: allocator)
                #expect(String(buffer: try inflater.decompress(compressed, limit: 1 << 20, allocator: allocator)) == text)
            }
        }
    }

    @Test("a deflate bomb is refused at the limit, holding at most the limit")
    func deflateBomb() throws {
        let deflater = try MessageDeflater(windowBits: 15, noContextTakeover: false)
        let zeros = ByteBuffer(repeating: 0, count: 8 << 20)
        let bomb = try deflater.compress(zeros, allocator: allocator)
        #expect(bomb.readableBytes < 10_000, "8 MiB of zeros compress to a few KiB")
        #expect(throws: MessageInflater.Failure.tooLarge(limit: 1 << 20)) {
            try MessageInflater().decompress(bomb, limit: 1 << 20, allocator: allocator)
        }
        // Exactly at the limit is fine.
        let exact = try MessageInflater().decompress(
            try MessageDeflater(windowBits: 15, noContextTakeover: true).compress(ByteBuffer(repeating: 0, count: 4096), allocator: allocator),
            limit: 4096, allocator: allocator)
        #expect(exact.readableBytes == 4096)
    }

    @Test("data that is not DEFLATE is refused")
    func corrupt() throws {
        #expect(throws: MessageInflater.Failure.corrupt) {
            try MessageInflater().decompress(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x12]), limit: 100, allocator: allocator)
        }
    }
}
