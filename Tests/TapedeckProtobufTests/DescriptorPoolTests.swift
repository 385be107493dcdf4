import Testing
import TapedeckCore
@testable import TapedeckProtobuf

@Suite struct DescriptorPoolTests {
    @Test func loadsTheWorkitemsSchema() throws {
        let pool = try DescriptorPool(contentsOf: Fixtures.path("workitems"))
        for name in [
            "WebSocketMessage", "Subscribe", "SubscriptionConfirmed", "Unsubscribe", "Ping", "Pong", "ErrorResponse",
            "WorkItem", "FieldChange", "WorkItemCreated", "WorkItemUpdated", "WorkItemDeleted", "WorkItemMoved",
            "Sprint", "SprintCreated", "SprintUpdated", "SprintDeleted", "SprintStarted", "SprintCompleted",
            "Comment", "CommentAdded", "CommentUpdated", "CommentDeleted", "TimeEntry", "TimeEntryStarted",
            "TimeEntryStopped", "TimeEntryUpdated", "TimeEntryDeleted", "Dependency", "DependencyCreated",
            "DependencyDeleted", "UserPresence", "UserTyping",
        ] {
            #expect(pool.hasMessageType("workitems.v1.\(name)"), "missing \(name)")
        }
        #expect(pool.hasMessageType(".workitems.v1.WebSocketMessage"))
        #expect(!pool.hasMessageType("workitems.v1.Nope"))
        #expect(pool.messageTypeNames == pool.messageTypeNames.sorted())
    }

    @Test func resolvesJSONNamesOneofsAndPresence() throws {
        let pool = try #require(Fixtures.testPool)
        let everything = pool.messages[try #require(pool.message(named: "tapedeck.test.Everything"))]
        let custom = everything.fields[try #require(everything.indexByName["renamedField"])]
        #expect(custom.name == "custom_named")
        #expect(everything.indexByName["custom_named"] == everything.indexByName["renamedField"])
        let optional = everything.fields[try #require(everything.indexByName["oInt32"])]
        #expect(optional.hasPresence)
        let plain = everything.fields[try #require(everything.indexByName["fInt32"])]
        #expect(!plain.hasPresence)
        #expect(everything.fields[try #require(everything.indexByName["rInt32"])].isPacked)
        #expect(!everything.fields[try #require(everything.indexByName["rInt32Unpacked"])].isPacked)
        #expect(everything.fields[try #require(everything.indexByName["mStringInt32"])].isMap)
        #expect(everything.oneofNames.contains("choice"))
        #expect(everything.fields.map(\.number) == everything.fields.map(\.number).sorted())
    }

    @Test func rejectsGarbageAndIncompleteSets() throws {
        #expect(throws: ProtobufError.self) { try DescriptorPool(descriptorSetBytes: [0xFF, 0xFF, 0xFF]) }
        #expect(throws: ProtobufError.self) { try DescriptorPool(contentsOf: "/nonexistent/x.pb") }
        // codec_test.proto without its imports: the well-known types cannot be resolved.
        // FileDescriptorSet field 1 = file; keep only the last file (test/codec_test.proto).
        var reader = WireReader(Fixtures.bytes("codec_test")[...])
        var last: ArraySlice<UInt8> = []
        while !reader.isAtEnd {
            _ = try reader.readTag()
            last = try reader.readLengthDelimited()
        }
        var writer = WireWriter()
        writer.writeTag(1, .lengthDelimited)
        writer.writeLengthDelimited(Array(last))
        let error = #expect(throws: ProtobufError.self) { try DescriptorPool(descriptorSetBytes: writer.bytes) }
        #expect(error?.description.hasPrefix("invalid descriptor set: tapedeck.test.") == true && error?.description.contains(" type google.protobuf.") == true, "\(String(describing: error))")
    }

    @Test func codecNeedsAKnownMessageType() throws {
        let pool = try #require(Fixtures.workitemsPool)
        let error = #expect(throws: ProtobufError.self) { try ProtobufCodec(pool: pool, messageType: "workitems.v1.Nope") }
        #expect(error?.description == "unknown message type \"workitems.v1.Nope\"")
    }
}
