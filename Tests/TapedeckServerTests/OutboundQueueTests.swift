import NIOCore
import Testing
@testable import TapedeckServer

/// Per-subscription backpressure in the outbound queue.
@Suite("Outbound queue backpressure")
struct OutboundQueueTests {
    @Test func eachSubscriptionKeepsItsNewestAndTheReaderIsToldHowManyWereDropped() {
        var q = OutboundQueue(capacity: 10_000, tagCapacity: 1000) { tag, dropped in .text("warning \(tag) \(dropped)") }
        for i in 0..<1500 { q.pushEvent(OutboundFrame(.text("a\(i)")), tag: "tail") }
        for i in 0..<10 { q.pushEvent(OutboundFrame(.text("b\(i)")), tag: "progress") }
        #expect(q.droppedCount == 500)
        // The warning comes first, then the 1000 newest of the flooded subscription; the other keeps all.
        #expect(q.pop()?.item == .text("warning tail 500"))
        var items: [OutboundItem] = []
        for _ in 0..<1010 { if let i = q.pop(), let item = i.item { items.append(item) } }
        #expect(items.first == .text("a500"))
        #expect(items.filter { if case .text(let s) = $0 { s.hasPrefix("a") } else { false } }.count == 1000)
        #expect(items.suffix(10) == (0..<10).map { .text("b\($0)") })
        #expect(q.isEmpty)
    }

    @Test func repliesAreNeverDroppedAndMemoryStaysBounded() {
        var q = OutboundQueue(capacity: 10_000, tagCapacity: 5) { tag, dropped in .text("warning \(tag) \(dropped)") }
        q.pushControl(OutboundFrame(.text("reply")))
        for i in 0..<100_000 { q.pushEvent(OutboundFrame(.text("e\(i)")), tag: "t") }
        #expect(q.pop()?.item == .text("warning t 99995"))
        #expect(q.pop()?.item == .text("reply"))
        var rest: [OutboundItem] = []
        for _ in 0..<5 { if let i = q.pop(), let item = i.item { rest.append(item) } }
        #expect(rest == (99_995..<100_000).map { .text("e\($0)") })
        #expect(q.pop() == nil)
    }

    @Test func repliesAndPongsAreBoundedInFramesAndBytesButTheCloseAlwaysFits() {
        var q = OutboundQueue(capacity: 10, controlCapacity: 3, controlBytes: 1000)
        func push(_ frame: OutboundFrame, bounded: Bool = true) -> Bool { q.pushControl(frame, bounded: bounded) }
        let pong = OutboundFrame(pong: ByteBuffer(bytes: [1, 2]), allocator: ByteBufferAllocator())
        #expect(pong.item == nil)
        #expect([push(pong), push(pong), push(pong), push(pong)] == [true, true, true, false])
        #expect(q.controlCount == 3)
        // The connection's own close is never refused.
        #expect(push(OutboundFrame(.close(code: 1000, reason: "")), bounded: false))
        while q.pop() != nil {}
        #expect(q.controlCount == 0 && q.controlByteCount == 0)
        // In bytes: one reply always fits however large; the next one must fit under the bound.
        #expect(push(OutboundFrame(.binary(Array(repeating: 0, count: 5000)))))
        #expect(!push(OutboundFrame(.text("x"))))
        _ = q.pop()
        #expect(push(OutboundFrame(.binary(Array(repeating: 0, count: 900)))))
        #expect(!push(OutboundFrame(.binary(Array(repeating: 0, count: 200)))))
        // Events do not count against the replies' bound.
        for i in 0..<20 { q.pushEvent(OutboundFrame(.text("e\(i)"))) }
        #expect(q.controlCount == 1)
    }

    @Test func aProducerThatMustNotDropSeesWhenThereIsRoom() {
        var q = OutboundQueue(capacity: 3)
        for i in 0..<3 { q.pushEvent(OutboundFrame(.text("e\(i)")), tag: "t", mayDrop: false) }
        #expect(!q.hasRoom(for: 1))
        q.pushEvent(OutboundFrame(.text("e3")), tag: "t", mayDrop: false)
        #expect(q.droppedCount == 0)
        _ = q.pop()
        _ = q.pop()
        #expect(q.hasRoom(for: 1))
    }

    @Test func aServerFrameIsEncodedOnceWithItsHeader() {
        let small = OutboundFrame(.text("hi"))
        #expect(Array(small.wire.readableBytesView) == [0x81, 2, 0x68, 0x69])
        let medium = OutboundFrame(.binary(Array(repeating: 7, count: 300)))
        #expect(Array(medium.wire.readableBytesView.prefix(4)) == [0x82, 126, 1, 44])
        let close = OutboundFrame(.close(code: 1001, reason: "bye"))
        #expect(Array(close.wire.readableBytesView) == [0x88, 5, 0x03, 0xE9] + Array("bye".utf8))
    }
}
