import FerryCore
import FerryServer
import Foundation

/// The records every workload writes: rows of an `items` table, about 200 bytes of JSON
/// payload each (`{"title": …, "body": <150 characters>, "n": i, "done": false}`).
enum BenchRecords {
    /// The entity (and the client's table) the records belong to.
    static let entity = "items"

    /// The client's table: one column per payload field, keyed by the entity key.
    static let createTableSQL = """
        CREATE TABLE items (id TEXT PRIMARY KEY NOT NULL, title TEXT, body TEXT, n INTEGER, done INTEGER)
        """

    private static let words = Array(
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat "
            .utf8
    )

    /// The key of record `index`.
    static func key(_ index: Int) -> String { "item-\(index)" }

    /// The title and the 150-character body of record `index`; bodies differ from record to record.
    static func text(_ index: Int) -> (title: String, body: String) {
        let start = (index &* 7919) % words.count
        var body = [UInt8]()
        body.reserveCapacity(150)
        while body.count < 150 { body.append(words[(start + body.count) % words.count]) }
        return ("Item \(index)", String(decoding: body, as: UTF8.self))
    }

    /// The payload of record `index`.
    static func payload(_ index: Int) -> JSONValue {
        let (title, body) = text(index)
        return .object(["title": .string(title), "body": .string(body), "n": .int(Int64(index)), "done": .bool(false)])
    }

    /// The upserts of records `range`, with client action ids `range.lowerBound + 1 …`.
    static func inputs(_ range: Range<Int>) -> [MutationInput] {
        range.map { index in
            MutationInput(
                clientActionID: Int64(index + 1),
                entity: entity,
                entityKey: key(index),
                op: .upsert,
                payload: payload(index),
                baseSeq: 0
            )
        }
    }

    /// The same upserts as the server's store takes them, payloads already serialized.
    static func newMutations(_ range: Range<Int>) -> [NewMutation] {
        range.map { index in
            NewMutation(
                clientActionID: Int64(index + 1),
                entity: entity,
                entityKey: key(index),
                op: .upsert,
                payload: payload(index).serialized(),
                baseSeq: 0,
                clientTimestamp: nil
            )
        }
    }

    /// The records `range` as a server stores them, for the JSON ceiling.
    static func stored(_ range: Range<Int>) -> [StoredMutation] {
        range.map { index in
            StoredMutation(
                seq: Int64(index + 1),
                deviceID: "d-bench-writer",
                sessionID: "s-bench",
                mutation: NewMutation(
                    clientActionID: Int64(index + 1),
                    entity: entity,
                    entityKey: key(index),
                    op: .upsert,
                    payload: payload(index).serialized(),
                    baseSeq: 0
                ),
                occurredAtMilliseconds: 1_763_900_000_000 + Int64(index / 1000)
            )
        }
    }

    /// Splits `0..<count` into consecutive ranges of at most `size`.
    static func batches(_ range: Range<Int>, size: Int) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: size).map { $0..<min($0 + size, range.upperBound) }
    }
}
