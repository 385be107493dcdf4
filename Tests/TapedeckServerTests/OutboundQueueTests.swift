import Testing
@testable import TapedeckServer

/// Per-subscription backpressure in the outbound queue.
@Suite("Outbound queue backpressure")
struct OutboundQueueTests {
    @Test func eachSubscriptionKeepsItsNewestAndTheReaderIsToldHowManyWereDropped() async {
        let q = OutboundQueue(capacity: 10_000, tagCapacity: 1000) { tag, dropped in .text("warning \(tag) \(dropped)") }
        for i in 0..<1500 { q.pushEvent(.text("a\(i)"), tag: "tail") }
        for i in 0..<10 { q.pushEvent(.text("b\(i)"), tag: "progress") }
        #expect(q.droppedCount == 500)
        // The warning comes first, then the 1000 newest of the flooded subscription; the other keeps all.
        #expect(await q.next() == .text("warning tail 500"))
        var items: [OutboundItem] = []
        for _ in 0..<1010 { if let i = await q.next() { items.append(i) } }
        #expect(items.first == .text("a500"))
        #expect(items.filter { if case .text(let s) = $0 { s.hasPrefix("a") } else { false } }.count == 1000)
        #expect(items.suffix(10) == (0..<10).map { .text("b\($0)") })
    }

    @Test func repliesAreNeverDroppedAndMemoryStaysBounded() async {
        let q = OutboundQueue(capacity: 10_000, tagCapacity: 5) { tag, dropped in .text("warning \(tag) \(dropped)") }
        q.pushControl(.text("reply"))
        for i in 0..<100_000 { q.pushEvent(.text("e\(i)"), tag: "t") }
        #expect(await q.next() == .text("warning t 99995"))
        #expect(await q.next() == .text("reply"))
        var rest: [OutboundItem] = []
        for _ in 0..<5 { if let i = await q.next() { rest.append(i) } }
        #expect(rest == (99_995..<100_000).map { .text("e\($0)") })
        q.finish()
        #expect(await q.next() == nil)
    }
}
