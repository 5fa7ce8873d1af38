import FerryCore
import Foundation
import Testing

/// Ferry's own JSON reader and writer, checked against Foundation's `JSONDecoder`,
/// `JSONEncoder` and `JSONSerialization` on the same texts and values.
@Suite struct JSONCodecTests {
    @Test(arguments: [
        #"{}"#,
        #"[]"#,
        #"  {"a" : [1, -2, 3.5, -0.25e2, 1E3, 0, -0], "b": {"c": null, "d": true, "e": false}}  "#,
        #"{"s": "quote \" slash \/ backslash \\ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude80 é 🚀"}"#,
        #"{"big": 9223372036854775807, "small": -9223372036854775808, "over": 9223372036854775808, "under": -9223372036854775809}"#,
        #"[[[[{"deep": [[]]}]]]]"#,
        #""just a string""#,
        #"12345"#,
        #"null"#,
    ])
    func readsWhatFoundationReads(text: String) throws {
        let ours = try JSONValue(parsing: text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == foundation)
    }

    @Test(arguments: [
        ("", "found the end of the text"),
        ("{", "found the end of the text"),
        (#"{"a":1,}"#, "expected a member name"),
        ("[1,]", "expected a value"),
        ("[1 2]", "expected ',' or ']'"),
        ("01", "expected the end"),
        ("1.", "expected a digit after '.'"),
        ("-", "expected a value"),
        ("1e", "expected a digit in an exponent"),
        (#""open"#, "not closed"),
        ("\"tab\there\"", "control characters"),
        (#""\ud800""#, "lone surrogate"),
        (#""\udc00x""#, "lone surrogate"),
        (#""\x""#, "bad escape"),
        (#""\u12G4""#, #"bad \u escape"#),
        ("tru", "expected true"),
        ("{'a': 1}", "expected a member name"),
        ("{} {}", "expected the end"),
        ("NaN", "expected a value"),
    ])
    /// RFC 8259, strictly: Foundation's reader accepts some of these (trailing commas).
    func refusesWhatIsNotJSON(text: String, expected: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            let message = (error as? JSONReadError)?.description ?? ""
            return message.contains("is not valid JSON") && message.contains(expected)
        }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        let invalid: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONReadError.self) { try JSONValue(parsing: invalid) }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONReadError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue(parsing: fine)) != nil)
    }

    @Test func compactTextDropsWhitespaceAndKeepsTheRest() throws {
        let text = #"{ "b" : [ 1 , 2.50 , "x\u0041 y" ] ,"a":{ } }"#
        let compact = try JSONReader.withReader(Array(text.utf8)) { try $0.readCompactText() }
        #expect(String(decoding: compact, as: UTF8.self) == #"{"b":[1,2.50,"x\u0041 y"],"a":{}}"#)
        #expect(try JSONValue(parsing: compact) == JSONValue(parsing: text))
    }

    @Test func randomValuesRoundTripThroughBothCodecs() throws {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<300 {
            let value = JSONValue.object(Self.members(&random, depth: 0))
            let ours = value.serialized()
            #expect(try JSONValue(parsing: ours) == value)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(ours)) == value)
            let theirs = try JSONEncoder().encode(value)
            #expect(try JSONValue(parsing: theirs) == value)
        }
    }

    @Test func wireMessagesAgreeWithTheirCodableForm() throws {
        var random = SplitMix64(seed: 42)
        let mutations = (1...20).map { (index: Int) -> MutationInput in
            let payload: JSONValue? = index % 3 == 0 ? nil : .object(Self.members(&random, depth: 1))
            return MutationInput(
                clientActionID: Int64(index),
                entity: "note",
                entityKey: "k-\(index) \"é\"",
                op: index % 3 == 0 ? .delete : .upsert,
                payload: payload,
                baseSeq: index % 2 == 0 ? Int64(index) : nil,
                clientTimestamp: index % 4 == 0 ? "2026-11-22T10:00:00Z" : nil
            )
        }
        let push = PushRequest(space: "notes", deviceID: "dev-a", sessionID: "s-1", mutations: mutations)
        #expect(try JSONDecoder().decode(PushRequest.self, from: Data(push.jsonBytes())) == push)
        #expect(try PushRequest(jsonBytes: JSONEncoder().encode(push)) == push)

        let response = PushResponse(
            accepted: 1,
            acks: [MutationAck(clientActionID: 1, seq: 42)],
            rejected: [
                MutationRejection(clientActionID: 2, reason: .duplicate, seq: 40),
                MutationRejection(clientActionID: 3, reason: .invalid, message: "op must be upsert, patch or delete"),
            ],
            conflicts: [ConflictReport(clientActionID: 1, entity: "note", entityKey: "n1", baseSeq: 10, currentSeq: 12)],
            headSeq: 42,
            logID: "6f1c"
        )
        #expect(try JSONDecoder().decode(PushResponse.self, from: Data(response.jsonBytes())) == response)
        #expect(try PushResponse(jsonBytes: JSONEncoder().encode(response)) == response)

        let pull = PullResponse(
            mutations: mutations.enumerated().map { offset, input in
                LoggedMutation(
                    seq: Int64(offset + 1),
                    deviceID: "dev-b",
                    sessionID: "s-9",
                    mutation: input,
                    occurredAtMilliseconds: 1_795_341_660_120
                )
            },
            hasMore: true,
            latestSeq: 20,
            headSeq: 25,
            logID: "6f1c"
        )
        #expect(try JSONDecoder().decode(PullResponse.self, from: Data(pull.jsonBytes())) == pull)
        #expect(try PullResponse(jsonBytes: JSONEncoder().encode(pull)) == pull)
        // Optional members are left out, not written as null.
        let object = try JSONSerialization.jsonObject(with: Data(pull.jsonBytes())) as! [String: Any]
        let delete = (object["mutations"] as! [[String: Any]])[2]
        #expect(Set(delete.keys) == ["seq", "device_id", "session_id", "client_action_id", "entity", "entity_key", "op", "occurred_at"])
    }

    @Test func unknownMembersAreIgnoredAndNullIsAbsent() throws {
        let text = #"""
            {"space": "notes", "device_id": "d", "session_id": "s", "extra": {"x": [1, {"y": null}]},
             "mutations": [{"client_action_id": 1, "entity": "note", "entity_key": "k", "op": "delete",
                            "payload": null, "base_seq": null, "client_timestamp": null, "later": true}]}
            """#
        let push = try PushRequest(jsonBytes: Array(text.utf8))
        #expect(push.mutations == [MutationInput(clientActionID: 1, entity: "note", entityKey: "k", op: .delete)])
    }

    @Test func escapedMemberNamesMatchTheirDecodedName() throws {
        let text = #"{"sp\u0061ce": "notes", "device_id": "d", "session_\u0069d": "s", "mutations": [], "spacé": 1}"#
        let push = try PushRequest(jsonBytes: Array(text.utf8))
        #expect(push.space == "notes")
        #expect(push.sessionID == "s")
    }

    @Test(arguments: [
        (
            #"{"space":"n","device_id":"d","session_id":"s","mutations":[{"client_action_id":"one","entity":"n","entity_key":"k","op":"upsert"}]}"#,
            "mutations[0].client_action_id must be an integer"
        ),
        (
            #"{"space":"n","device_id":"d","session_id":"s","mutations":[{"client_action_id":1,"entity_key":"k","op":"upsert"}]}"#,
            "mutations[0].entity is required"
        ),
        (#"{"space":"n","device_id":"d","mutations":[]}"#, "session_id is required"),
        (#"{"space":"n","device_id":null,"session_id":"s","mutations":[]}"#, "device_id must be a string, not null"),
        (#"{"space":"n","device_id":"d","session_id":"s","mutations":{}}"#, "mutations must be an array"),
        (
            #"{"space":"n","device_id":"d","session_id":"s","mutations":[{"client_action_id":1.5,"entity":"n","entity_key":"k","op":"upsert"}]}"#,
            "mutations[0].client_action_id must be an integer"
        ),
        (#"[]"#, "the body must be an object"),
    ])
    func errorsNameTheMember(text: String, message: String) {
        #expect {
            try PushRequest(jsonBytes: Array(text.utf8))
        } throws: { error in
            (error as? JSONReadError)?.description == message
        }
    }

    // MARK: Random values

    private static func members(_ random: inout SplitMix64, depth: Int) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        for index in 0..<Int(random.next() % 6) {
            members["k\(index)\(Self.string(&random))"] = value(&random, depth: depth + 1)
        }
        return members
    }

    private static func value(_ random: inout SplitMix64, depth: Int) -> JSONValue {
        switch random.next() % (depth > 3 ? 6 : 8) {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: random.next()) >> (random.next() % 64))
        case 3:
            // Doubles with a fraction, so that they read back as doubles.
            return .double(Double(Int64(bitPattern: random.next()) >> 20) + 0.5)
        case 4, 5: return .string(string(&random))
        case 6: return .array((0..<Int(random.next() % 4)).map { _ in value(&random, depth: depth + 1) })
        default: return .object(members(&random, depth: depth))
        }
    }

    private static let alphabet: [Character] = Array("ab \"\\/\n\t\u{1}\u{1F}é€🚀z")

    private static func string(_ random: inout SplitMix64) -> String {
        String((0..<Int(random.next() % 8)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }
}

/// A small seeded generator, so that a failure repeats.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
