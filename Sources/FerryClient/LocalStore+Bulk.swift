import FerryCore
import GRDB
import Logging

extension LocalStore {
    /// A bulk chunk built from the outbox: the upload, and the batch its answer is recorded
    /// for (``recordPushResult(_:for:)``).
    public struct BulkChunk: Sendable, Hashable {
        /// The chunk to upload.
        public var request: BulkPushRequest
        /// The entries it carries, as a push batch.
        public var batch: OutboxBatch
    }

    /// The next pending entries as a bulk chunk, oldest first, all of one session: up to
    /// `maxMutations` of them, ending before the line that would take the body past
    /// `maxBytes` (one line at least); `nil` when nothing waits.
    ///
    /// Each line is a mutation as a push request has it, written from the entry's stored
    /// text, so the same entries give the same body and chunk id in every process.
    /// - Throws: ``LocalStoreError`` `corruptData` when an entry's stored payload does not read.
    public func nextBulkChunk(space: String, maxMutations: Int, maxBytes: Int) async throws -> BulkChunk? {
        try await writer.read { db in try self.nextBulkChunk(space: space, maxMutations: maxMutations, maxBytes: maxBytes, db) }
    }

    private func nextBulkChunk(space: String, maxMutations: Int, maxBytes: Int, _ db: Database) throws -> BulkChunk? {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT client_action_id, session_id, entity, entity_key, op, payload, base_seq, created_at
                FROM ferry_outbox WHERE state = 'pending' ORDER BY client_action_id LIMIT ?
                """,
            arguments: [max(1, maxMutations)]
        )
        var session: String?
        var body = JSONWriter(capacity: 64 << 10)
        var mutations: [MutationInput] = []
        while let row = try rows.next() {
            let rowSession: String = row[1]
            if let session, session != rowSession { break }
            session = rowSession
            var payloadText: String? = row[5]
            let payload = try RecordCodec.decodeCaptured(payloadText)
            if let text = payloadText, text.contains(LocalStore.capturedHexMember) { payloadText = RecordCodec.encode(payload) }
            var line = JSONWriter(capacity: 256 + (payloadText?.utf8.count ?? 0))
            let mutation = MutationInput(
                clientActionID: row[0],
                entity: row[2],
                entityKey: row[3],
                op: MutationOp(rawValue: row[4]),
                payload: payload.map(JSONValue.object),
                baseSeq: row[6],
                clientTimestamp: row[7]
            )
            Self.writeBulkLine(mutation, payloadText: payloadText, to: &line)
            if !mutations.isEmpty && body.bytes.count + line.bytes.count > maxBytes { break }
            body.raw(line.bytes)
            mutations.append(mutation)
        }
        guard let session else { return nil }
        let bytes = body.bytes
        return BulkChunk(
            request: BulkPushRequest(
                space: space,
                deviceID: deviceID,
                sessionID: session,
                body: bytes,
                chunkID: SyncEngine.sha256Hex(bytes)
            ),
            batch: OutboxBatch(request: PushRequest(space: space, deviceID: deviceID, sessionID: session, mutations: mutations))
        )
    }

    /// One NDJSON line of a bulk chunk: the push request's form of `mutation`, its payload
    /// written as the stored text.
    private static func writeBulkLine(_ mutation: MutationInput, payloadText: String?, to writer: inout JSONWriter) {
        writer.byte(UInt8(ascii: "{"))
        writer.key("client_action_id", first: true)
        writer.int(mutation.clientActionID)
        writer.key("entity")
        writer.string(mutation.entity)
        writer.key("entity_key")
        writer.string(mutation.entityKey)
        writer.key("op")
        writer.string(mutation.op.rawValue)
        if let payloadText {
            writer.key("payload")
            writer.raw(payloadText.utf8)
        }
        if let baseSeq = mutation.baseSeq {
            writer.key("base_seq")
            writer.int(baseSeq)
        }
        if let timestamp = mutation.clientTimestamp {
            writer.key("client_timestamp")
            writer.string(timestamp)
        }
        writer.byte(UInt8(ascii: "}"))
        writer.byte(UInt8(ascii: "\n"))
    }

    /// Imports records into the registered table `table` as local upserts, in one
    /// transaction: each record becomes the table's row of its key (columns it lacks take
    /// their default) and an `upsert` in the outbox whose payload is the record's members
    /// that are columns of the table (null members kept). The key is the record's member
    /// named by the table's key column, a string or an integer.
    ///
    /// - Parameter next: Answers the next record, `nil` after the last.
    /// - Returns: The records imported.
    /// - Throws: ``LocalStoreError`` `unknownTable` when `table` is not registered,
    ///   `invalidRecord` naming the first record without a usable key; what `next` throws;
    ///   database errors. After an error nothing was imported.
    @discardableResult
    public func importRecords(into table: String, next: () throws -> [String: JSONValue]?) throws -> Int {
        try writer.write { db in
            guard let synced = try Self.syncedTables(db).first(where: { $0.name == table }) else {
                throw LocalStoreError(.unknownTable, "table '\(table)' is not registered (ferry track)")
            }
            let columns = Set(synced.columns)
            let now = RFC3339.format(millisecondsSince1970: clock.nowMilliseconds())
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO ferry_outbox (session_id, entity, entity_key, op, payload, base_seq, created_at)
                    VALUES (?, ?, ?, 'upsert', ?, coalesce((SELECT seq FROM ferry_shadow WHERE entity = ? AND entity_key = ?), 0), ?)
                    """
            )
            var count = 0
            try self.withApplyGuard(db) {
                while let record = try next() {
                    count += 1
                    let key: String
                    switch record[synced.keyColumn] {
                    case .string(let text)?: key = text
                    case .int(let number)?: key = String(number)
                    default:
                        throw LocalStoreError(
                            .invalidRecord,
                            "record \(count) has no '\(synced.keyColumn)' that is a string or an integer"
                        )
                    }
                    let payload = synced.outgoing(record.filter { columns.contains($0.key) })
                    try Self.writeRow(synced, key: key, record: payload, db)
                    try insert.execute(arguments: [sessionID, table, key, RecordCodec.encode(payload), table, key, now])
                }
            }
            return count
        }
    }
}
