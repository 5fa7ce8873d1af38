import FerryCore
import Foundation
import Testing

@Suite struct WireModelTests {
    @Test func pushRequestDecodesTheProtocolExample() throws {
        let json = """
            {"space": "notes", "device_id": "dev-a", "session_id": "s-1",
             "mutations": [
               {"client_action_id": 1, "entity": "note", "entity_key": "n1", "op": "upsert",
                "payload": {"title": "Groceries", "body": "milk"}, "base_seq": 0,
                "client_timestamp": "2026-11-22T10:00:00Z", "unknown_field": true}]}
            """
        let push = try JSONDecoder().decode(PushRequest.self, from: Data(json.utf8))
        #expect(push.space == "notes")
        #expect(push.deviceID == "dev-a")
        #expect(push.mutations.first?.payload == .object(["title": .string("Groceries"), "body": .string("milk")]))
        #expect(push.mutations.first?.baseSeq == 0)
        #expect(push.mutations.first?.op == .upsert)
    }

    @Test func optionalFieldsAreAbsentNotNull() throws {
        let rejection = MutationRejection(clientActionID: 7, reason: .duplicate, seq: 40)
        let text = String(decoding: try JSONEncoder().encode(rejection), as: UTF8.self)
        #expect(!text.contains("null"))
        #expect(!text.contains("message"))
        #expect(text.contains(#""client_action_id":7"#))
        let logged = LoggedMutation(
            seq: 1,
            deviceID: "d",
            sessionID: "s",
            mutation: MutationInput(clientActionID: 1, entity: "note", entityKey: "k", op: .delete),
            occurredAtMilliseconds: 1_795_341_660_120
        )
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(logged)) as! [String: Any]
        #expect(Set(object.keys) == ["seq", "device_id", "session_id", "client_action_id", "entity", "entity_key", "op", "occurred_at"])
    }

    @Test func pushResponseUsesSnakeCase() throws {
        let response = PushResponse(
            accepted: 1,
            acks: [MutationAck(clientActionID: 1, seq: 42)],
            rejected: [],
            conflicts: [ConflictReport(clientActionID: 1, entity: "note", entityKey: "n1", baseSeq: 10, currentSeq: 12)],
            headSeq: 42,
            logID: "x"
        )
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(response)) as! [String: Any]
        #expect(Set(object.keys) == ["accepted", "acks", "rejected", "conflicts", "head_seq", "log_id"])
        let conflict = (object["conflicts"] as! [[String: Any]])[0]
        #expect(Set(conflict.keys) == ["client_action_id", "entity", "entity_key", "base_seq", "current_seq"])
    }

    @Test func errorCodesMapToTheirStatus() {
        #expect(FerryError.Code.badRequest.httpStatus == 400)
        #expect(FerryError.Code.cursorAhead.httpStatus == 409)
        #expect(FerryError.Code.payloadTooLarge.httpStatus == 413)
        #expect(FerryError.Code.unavailable.httpStatus == 503)
        #expect(FerryError.Code(rawValue: "something_new").httpStatus == 500)
    }

    @Test(arguments: [
        JSONValue.object([:]),
        .object(["a": .string("quote \" backslash \\ newline \n tab \t bell \u{7} é 🚀"), "b": .int(Int64.max), "c": .int(Int64.min)]),
        .object(["d": .double(1.5), "e": .double(-0.25), "g": .double(1e300), "h": .null, "i": .bool(false)]),
        .object(["nested": .array([.object(["x": .array([])]), .int(0), .string("")])]),
    ])
    func serializedJSONReadsBackEqual(value: JSONValue) throws {
        let bytes = value.serialized()
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        #expect(decoded == value)
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
    }

    @Test func integralDoublesReadBackAsTheSameNumber() throws {
        let bytes = JSONValue.object(["f": .double(3.0)]).serialized()
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) == .object(["f": .int(3)]))
        #expect(String(decoding: JSONValue.double(.infinity).serialized(), as: UTF8.self) == "null")
    }

    @Test func serializationIsCanonical() {
        let a = JSONValue.object(["b": .int(1), "a": .int(2)])
        #expect(String(decoding: a.serialized(), as: UTF8.self) == #"{"a":2,"b":1}"#)
    }
}

@Suite struct ProtocolRulesTests {
    @Test func spaceNames() {
        #expect(ProtocolRules.isValidSpace("notes"))
        #expect(ProtocolRules.isValidSpace("0a.b_c-d"))
        #expect(ProtocolRules.isValidSpace(String(repeating: "a", count: 64)))
        #expect(!ProtocolRules.isValidSpace(String(repeating: "a", count: 65)))
        #expect(!ProtocolRules.isValidSpace(""))
        #expect(!ProtocolRules.isValidSpace("Notes"))
        #expect(!ProtocolRules.isValidSpace("-notes"))
        #expect(!ProtocolRules.isValidSpace("no tes"))
    }

    @Test func entitiesKeysAndIDs() {
        #expect(ProtocolRules.isValidEntity("note"))
        #expect(ProtocolRules.isValidEntity("Note.v2_x-y"))
        #expect(!ProtocolRules.isValidEntity("9note"))
        #expect(!ProtocolRules.isValidEntity(""))
        #expect(ProtocolRules.isValidEntityKey("k"))
        #expect(ProtocolRules.isValidEntityKey(String(repeating: "é", count: 256)))
        #expect(!ProtocolRules.isValidEntityKey(String(repeating: "k", count: 257)))
        #expect(!ProtocolRules.isValidEntityKey(""))
        #expect(ProtocolRules.isValidClientID("dev-a 1"))
        #expect(!ProtocolRules.isValidClientID("dev\n"))
        #expect(!ProtocolRules.isValidClientID("é"))
        #expect(!ProtocolRules.isValidClientID(String(repeating: "d", count: 129)))
    }
}

@Suite struct RFC3339Tests {
    @Test func formatsMilliseconds() {
        #expect(RFC3339.format(millisecondsSince1970: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(millisecondsSince1970: 1_795_860_060_120) == "2026-11-28T10:01:00.120Z")
        #expect(RFC3339.format(millisecondsSince1970: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(RFC3339.format(millisecondsSince1970: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func formattedTimesMatchFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for seconds in stride(from: Int64(0), to: 4_000_000_000, by: 97_654_321) {
            let ours = RFC3339.format(millisecondsSince1970: seconds * 1000)
            #expect(ours.hasSuffix(".000Z"))
            #expect(
                ours.replacingOccurrences(of: ".000Z", with: "Z") == formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            )
        }
    }

    @Test func validation() {
        for good in ["2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456Z", "2026-11-22T10:00:00+02:00", "2026-11-22t10:00:00z"] {
            #expect(RFC3339.isValid(good), "\(good)")
        }
        for bad in [
            "", "2026-11-22", "2026-13-22T10:00:00Z", "2026-11-22T25:00:00Z", "2026-11-22T10:00:00", "2026-11-22T10:00:00.Z", "yesterday",
            "2026-11-22T10:00:00+2:00",
        ] {
            #expect(!RFC3339.isValid(bad), "\(bad)")
        }
    }
}
