import Testing
import TapedeckCore
import TapedeckProtobuf

/// JSON -> binary -> JSON gives back the same JSON (in canonical form), over a corpus.
@Suite struct ProtobufCodecRoundTripTests {
    static let workitemsCorpus: [String] = [
        #"{"messageId":"uuid-1","timestamp":"1234567890","subscribe":{"projectIds":["project-1","project-2"],"sprintIds":["sprint-1"]}}"#,
        #"{"messageId":"uuid-2","timestamp":"1234567891","subscriptionConfirmed":{"subscribedProjectIds":["project-1","project-2"],"subscribedSprintIds":["sprint-1"]}}"#,
        #"{"messageId":"uuid-x","subscribe":{}}"#,
        #"{"messageId":"ping-1","timestamp":"1234567890","ping":{"timestamp":"1234567890"}}"#,
        #"{"messageId":"pong-1","timestamp":"1234567891","pong":{"timestamp":"1234567891","clientTimestamp":"1234567890"}}"#,
        #"{"error":{"errorCode":"RATE_LIMIT_EXCEEDED","errorMessage":"Too many messages sent","requestMessageId":"uuid-123","fieldName":"title"}}"#,
        #"{"messageId":"uuid-3","timestamp":"1234567892","workItemUpdated":{"workItem":{"id":"task-123","itemType":"WORK_ITEM_TYPE_TASK","title":"Fix login bug","status":"done","projectId":"project-1","assigneeId":"user-456","storyPoints":0,"estimate":"-9223372036854775808","labels":["a","ü ✓",""],"updatedAt":"1234567890","updatedBy":"user-456"},"changes":[{"fieldName":"status","oldValue":"in_progress","newValue":"done"},{}],"userId":"user-456"}}"#,
        #"{"workItemMoved":{"workItemId":"task-123","projectId":"project-1","newParentId":"story-456","newPosition":2,"newSprintId":"sprint-789","userId":"user-123"}}"#,
        #"{"workItemCreated":{"workItem":{"id":"e","itemType":"WORK_ITEM_TYPE_EPIC","sprintId":"","position":-2147483648,"estimate":"9223372036854775807"}}}"#,
        #"{"sprintCompleted":{"sprintId":"sprint-5","stats":{"totalItems":10,"completedItems":7,"completionRate":0.7,"incompleteItemIds":["a","b","c"]}}}"#,
        #"{"timeEntryStarted":{"timeEntry":{"id":"entry-123","workItemId":"task-456","userId":"user-789","startedAt":"1234567890","description":"Working on authentication logic","createdAt":"1234567890"},"userId":"user-789"}}"#,
        #"{"timeEntryStopped":{"timeEntry":{"id":"entry-123","endedAt":"1234569690","durationSeconds":"0"}}}"#,
        #"{"dependencyCreated":{"dependency":{"id":"dep-123","blockingItemId":"task-456","blockedItemId":"task-789","dependencyType":"DEPENDENCY_TYPE_BLOCKS","createdAt":"1234567890","createdBy":"user-123"},"userId":"user-123"}}"#,
        #"{"userPresence":{"userId":"user-123","status":"PRESENCE_STATUS_ONLINE","viewingItemId":"task-456"}}"#,
        #"{"userPresence":{"userId":"user-9","status":42}}"#,
        #"{"userTyping":{"userId":"user-123","workItemId":"task-456","isTyping":true}}"#,
        #"{"commentAdded":{"comment":{"id":"comment-123","workItemId":"task-456","content":"I've fixed the issue, ready for review.","createdAt":"1234567890","createdBy":"user-789"},"userId":"user-789"}}"#,
        #"{}"#,
    ]

    static let everythingCorpus: [String] = [
        #"{"fInt32":-2147483648,"fInt64":"9223372036854775807","fUint32":4294967295,"fUint64":"18446744073709551615","fSint32":2147483647,"fSint64":"-9223372036854775808","fFixed32":4294967295,"fFixed64":"18446744073709551615","fSfixed32":-2147483648,"fSfixed64":"-9223372036854775808"}"#,
        #"{"fDouble":"NaN","fFloat":"-Infinity","rDouble":["Infinity",1e+308,5e-324,-2.5],"rFloat":[0.1,-1e-45,3.4028235e+38]}"#,
        #"{"fBool":true,"fString":"\"quoted\"\n\u0000 😀","fBytes":"AAEC/w==","fColor":"COLOR_NEGATIVE"}"#,
        #"{"rColor":["COLOR_NEGATIVE","COLOR_RED",7,-5],"oColor":"COLOR_UNSPECIFIED"}"#,
        #"{"oInt32":0,"oString":"","oBool":false,"oDouble":0}"#,
        #"{"rInt32Unpacked":[1,-1,0],"rSint64Unpacked":["-1","9223372036854775807"],"rSint32":[-1,0,1],"rBool":[true,false],"rString":["",""],"rBytes":["","AA=="]}"#,
        #"{"mStringInt32":{"a":1,"":0,"ü":-1},"mInt32String":{"-5":"minus five","0":""},"mInt64Node":{"9223372036854775807":{"value":1},"-1":{}},"mBoolString":{"true":"yes","false":"no"},"mUint64Color":{"18446744073709551615":"COLOR_GREEN","1":"COLOR_UNSPECIFIED"},"mStringBytes":{"k":"AQID"},"mSint32Double":{"-2147483648":1.5},"mStringValue":{"n":null,"s":"x","l":[1,"a",null,{"z":true}]}}"#,
        #"{"fNode":{"child":{"child":{"child":{"value":-1}}},"children":[{},{"shade":"COLOR_RED"},{"value":3}]}}"#,
        #"{"cNode":{"value":5,"inner":{"inner":{"label":"deep"}}}}"#,
        #"{"cNull":null}"#,
        #"{"cString":""}"#,
        #"{"cInt64":"0"}"#,
        #"{"cColor":"COLOR_UNSPECIFIED"}"#,
        #"{"wTimestamp":"1972-01-01T10:00:20.021Z","rTimestamp":["0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z","1970-01-01T00:00:00.000001Z","2024-02-29T12:00:00Z","1969-12-31T23:59:59.500Z"],"wDuration":"0.000000001s"}"#,
        #"{"wDuration":"-1.500s"}"#,
        #"{"wDuration":"315576000000.999999999s"}"#,
        #"{"wDuration":"0s"}"#,
        #"{"wDouble":0,"wFloat":1.25,"wInt64":"0","wUint64":"18446744073709551615","wInt32":-1,"wUint32":0,"wBool":false,"wString":"","wBytes":""}"#,
        #"{"wStruct":{"a":1,"b":[true,null,"s",{"c":{}}],"d":{"e":[]}}}"#,
        #"{"wStruct":{}}"#,
        #"{"wValue":null}"#,
        #"{"wValue":[1,2.5,"three"]}"#,
        #"{"wList":[null,false,0]}"#,
        #"{"wEmpty":{}}"#,
        #"{"wFieldMask":"fInt32,fNode.children,renamedField"}"#,
        #"{"wAny":{"@type":"type.googleapis.com/tapedeck.test.Node","value":9,"label":"packed"}}"#,
        #"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"}}"#,
        #"{"rWrapped":[0,1,-1],"rValue":[null,1,"x",[],{}]}"#,
        #"{"renamedField":"custom json name","fieldWith2Digits":2}"#,
    ]

    @Test(arguments: workitemsCorpus)
    func workitemsRoundTrip(_ text: String) throws {
        let codec = try Fixtures.workitems()
        let value = try json(text)
        let bytes = try codec.encode(value)
        let back = try codec.decode(bytes)
        #expect(back == value, "\(back.jsonString)")
        #expect(try codec.encode(back) == bytes)
    }

    @Test(arguments: everythingCorpus)
    func everythingRoundTrip(_ text: String) throws {
        let codec = try Fixtures.everything()
        let value = try json(text)
        let bytes = try codec.encode(value)
        let back = try codec.decode(bytes)
        #expect(back.looselyEquals(value), "\(back.jsonString)")
        #expect(try codec.encode(back) == bytes)
    }

    @Test func defaultsAreOmittedButPresenceIsKept() throws {
        let codec = try Fixtures.everything()
        let input = try json(
            #"{"fInt32":0,"fString":"","fBool":false,"fColor":"COLOR_UNSPECIFIED","fInt64":"0","rInt32":[],"mStringInt32":{},"fNode":{},"oInt32":0,"wInt32":0,"cString":""}"#)
        let out = try codec.decode(try codec.encode(input))
        #expect(out == (try json(#"{"fNode":{},"oInt32":0,"cString":"","wInt32":0}"#)))
    }

    @Test func acceptsOriginalNamesAndNumbersOnInput() throws {
        let codec = try Fixtures.workitems()
        let byProtoName = try json(
            #"{"message_id":"m","timestamp":5,"work_item_created":{"work_item":{"item_type":3,"estimate":"42","story_points":"7"},"user_id":"u"}}"#)
        let out = try codec.decode(try codec.encode(byProtoName))
        #expect(
            out
                == (try json(
                    #"{"messageId":"m","timestamp":"5","workItemCreated":{"workItem":{"itemType":"WORK_ITEM_TYPE_TASK","storyPoints":7,"estimate":"42"},"userId":"u"}}"#
                )))
        let protoNames = try Fixtures.workitems(.init(useProtoFieldNames: true))
        #expect(
            try protoNames.decode(try codec.encode(byProtoName))["work_item_created"]?["work_item"]?["story_points"]
                == .int(7))
    }

    @Test func nullMeansUnsetExceptForValueAndNullValue() throws {
        let codec = try Fixtures.everything()
        let out = try codec.decode(
            try codec.encode(try json(#"{"fInt32":null,"fNode":null,"rInt32":null,"wTimestamp":null,"wValue":null}"#)))
        #expect(out == (try json(#"{"wValue":null}"#)))
        #expect(try codec.decode(try codec.encode(try json(#"{"cNull":null}"#))) == (try json(#"{"cNull":null}"#)))
    }

    @Test func lastOneofMemberOnTheWireWins() throws {
        let codec = try Fixtures.everything()
        let a = try codec.encode(try json(#"{"cString":"first"}"#))
        let b = try codec.encode(try json(#"{"cInt64":"7"}"#))
        #expect(try codec.decode(a + b) == (try json(#"{"cInt64":"7"}"#)))
        #expect(try codec.decode(b + a) == (try json(#"{"cString":"first"}"#)))
    }

    @Test func repeatedOccurrencesOfAMessageMerge() throws {
        let codec = try Fixtures.everything()
        let a = try codec.encode(try json(#"{"fNode":{"value":1,"children":[{"value":1}]}}"#))
        let b = try codec.encode(try json(#"{"fNode":{"label":"x","children":[{"value":2}]}}"#))
        #expect(
            try codec.decode(a + b) == (try json(#"{"fNode":{"value":1,"children":[{"value":1},{"value":2}],"label":"x"}}"#)))
    }

    @Test func packedAndUnpackedAreBothAccepted() throws {
        let codec = try Fixtures.everything()
        // r_int32 (23) unpacked on the wire, r_int32_unpacked (38) packed on the wire.
        let bytes = unhex("b80101b80102") + unhex("b202020304")
        #expect(try codec.decode(bytes) == (try json(#"{"rInt32":[1,2],"rInt32Unpacked":[3,4]}"#)))
    }

    @Test func unknownEnumNumbersAndMissingMapPartsDecode() throws {
        let codec = try Fixtures.everything()
        // f_color = 99; m_string_int32 entry with no key and no value.
        #expect(try codec.decode(unhex("8001639a0300")) == (try json(#"{"fColor":99,"mStringInt32":{"":0}}"#)))
    }
}
