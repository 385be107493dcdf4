import Testing
@testable import TapedeckDiff

@Suite struct SequenceAlignmentTests {
    @Test func oneInsertedMessageIsOneInsertionNotACascade() {
        let a: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8]
        let b: [Int32] = [1, 2, 3, 9, 4, 5, 6, 7, 8]
        #expect(SequenceAlignment.align(a, b).runs == [.match(3), .insert(1), .match(5)])
    }

    @Test func oneRemovedMessageIsOneDeletion() {
        let a: [Int32] = [1, 2, 2, 2, 3, 4]
        let b: [Int32] = [1, 2, 2, 3, 4]
        let runs = SequenceAlignment.align(a, b).runs
        #expect(runs.filter { if case .delete = $0 { true } else { false } } == [.delete(1)])
        #expect(runs.reduce(0) { if case .match(let n) = $1 { $0 + n } else { $0 } } == 5)
    }

    @Test func scatteredEditsInTheMiddleAreFoundByMyers() {
        let a: [Int32] = [1, 5, 2, 3, 7, 4, 1]
        let b: [Int32] = [1, 2, 3, 8, 4, 6, 1]
        let runs = SequenceAlignment.align(a, b).runs
        // Every element is accounted for on both sides.
        var ea = 0, eb = 0, edits = 0
        for r in runs {
            switch r {
            case .match(let n): ea += n; eb += n
            case .delete(let n): ea += n; edits += n
            case .insert(let n): eb += n; edits += n
            }
        }
        #expect(ea == a.count && eb == b.count)
        #expect(edits == 4)  // 5 and 7 removed, 8 and 6 added: the minimum (LCS 1 2 3 4 1)
        #expect(!SequenceAlignment.align(a, b).fellBack)
    }

    @Test func emptySidesAreAllInsertionsOrDeletions() {
        #expect(SequenceAlignment.align([], [1, 2]).runs == [.insert(2)])
        #expect(SequenceAlignment.align([1, 2], []).runs == [.delete(2)])
        #expect(SequenceAlignment.align([], []).runs == [])
    }

    @Test func tooManyEditsFallBackToPairingByPosition() {
        let a: [Int32] = Array(repeating: 1, count: 50)
        let b: [Int32] = Array(repeating: 2, count: 50)
        let result = SequenceAlignment.align(a, b, maxEdits: 10)
        #expect(result.fellBack)
        let deletes = result.runs.reduce(0) { if case .delete(let n) = $1 { $0 + n } else { $0 } }
        #expect(deletes == 50)
    }
}

@Suite struct DriftHistogramTests {
    @Test func percentilesAreWithinOnePercent() {
        var h = DriftHistogram()
        for v in 1...1000 { h.record(Int64(v) * 1_000) }  // 1µs ... 1ms
        #expect(h.count == 1000)
        #expect(h.max == 1_000_000)
        let p50 = h.percentile(0.5)
        #expect(p50 >= 495_000 && p50 <= 510_000)
        let p99 = h.percentile(0.99)
        #expect(p99 >= 985_000 && p99 <= 1_000_000)
    }

    @Test func anEmptyHistogramSaysZero() {
        #expect(DriftHistogram().percentile(0.5) == 0)
    }

    @Test func durationsPrintInReadableUnits() {
        #expect(TimingSummary.format(nanos: 1_500_000) == "1.5ms")
        #expect(TimingSummary.format(nanos: 2_000_000_000) == "2s")
        #expect(TimingSummary.format(nanos: 850_000) == "850µs")
    }
}

@Suite struct TwoLevelAlignmentTests {
    @Test func anInsertionAmongMessagesOfOneKeyLandsWhereTheContentSaysAndAChangeStaysAPair() {
        // Five messages of one key; the actual side changes the second and inserts one after the third.
        let keys: [Int32] = [7, 7, 7, 7, 7]
        let keysB: [Int32] = [7, 7, 7, 7, 7, 7]
        let fine = [1, 2, 3, 5, 6]
        let fineB = [1, 20, 3, 4, 5, 6]
        let result = SequenceAlignment.align(coarse: keys, keysB, fine: fine, fineB)
        #expect(result.runs == [.match(3), .insert(1), .match(2)])
        // Keys alone put the insertion at the end of the run of equal keys.
        #expect(SequenceAlignment.align(keys, keysB).runs == [.match(5), .insert(1)])
    }
}
