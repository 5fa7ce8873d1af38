import FerryCore

extension SyncEndpoints {
    /// The store's snapshots; every store of Ferry keeps them.
    package var snapshotStore: any SnapshotStore {
        get throws {
            guard let store = eventLog as? any SnapshotStore else {
                throw FerryError(.notFound, "this server's store keeps no snapshots")
            }
            return store
        }
    }

    /// `GET /sync/pull?space=`: the space's newest manifest, or the empty one (`snapshot_seq`
    /// 0, no chunks) when it has none.
    package func manifest(space: String, authorize: (String) throws -> Void) async throws -> SnapshotManifest {
        try ProtocolRules.requireValidSpace(space)
        try authorize(space)
        let store = try snapshotStore
        if let manifest = try await store.newestManifest(space: space) { return manifest }
        let status = try await store.snapshotStatus(space: space)
        return SnapshotManifest(logID: status.logID, snapshotSeq: 0, floorSeq: status.floorSeq, chunks: [])
    }

    /// `GET /sync/pull/{chunk_id}`: the chunk's body when a space of `scope` holds it under
    /// a kept manifest; `404` otherwise, whatever the reason, so that a chunk of another
    /// space is never confirmed.
    package func chunk(id: String, scope: some Collection<String>) async throws -> [UInt8] {
        let notFound = FerryError(.notFound, "no snapshot chunk \(id.prefix(64)) in the spaces of this token")
        guard SnapshotManifest.isChunkID(id), !scope.isEmpty else { throw notFound }
        guard let body = try await snapshotStore.chunkBody(id: id.lowercased(), spaces: scope.sorted()) else { throw notFound }
        return body
    }

    /// `POST /sync/push`: a bulk chunk of mutations, one per NDJSON line. Checked whole
    /// before anything is stored (`400` for a bad id, a body that does not match it, or a
    /// line that is not a JSON object; `413` over the limits), then appended in one
    /// transaction. A line that breaks a mutation rule is rejected on its own.
    ///
    /// Idempotent: the mutations of a chunk uploaded again are found by their triples and
    /// answered as `duplicate` with the seqs they were stored under.
    package func bulkPush(
        space: String,
        deviceID: String,
        sessionID: String,
        chunkID: String?,
        body: [UInt8],
        authorize: (String) throws -> Void
    ) async throws -> PushOutcome {
        try ProtocolRules.requireValidSpace(space)
        try ProtocolRules.requireValidClientID(deviceID, parameter: "device_id")
        try ProtocolRules.requireValidClientID(sessionID, parameter: "session_id")
        guard let chunkID else { throw FerryError(.badRequest, "the X-Chunk-Id header is required: the SHA-256 of the body, in hex") }
        guard SnapshotManifest.isChunkID(chunkID) else { throw FerryError(.badRequest, "X-Chunk-Id must be 64 hex digits") }
        guard body.count <= configuration.bulkMaxBytes else {
            throw FerryError(.payloadTooLarge, "the chunk is \(body.count) bytes; at most \(configuration.bulkMaxBytes) are accepted")
        }
        let actual = SnapshotChunker.chunkID(of: body)
        guard actual == chunkID.lowercased() else {
            throw FerryError(.badRequest, "the body's SHA-256 is \(actual), not the X-Chunk-Id \(chunkID)")
        }
        try authorize(space)
        let lines = try BulkLines(body, maxLines: configuration.bulkMaxLines)
        let validator = PushValidator(configuration: configuration)
        var checked = try validator.checkMutations(lines.mutations)
        // Lines that were objects but not mutations are rejected on their own, with what
        // made them unreadable, in line order.
        let unreadable = Set(lines.unreadable.map(\.index))
        checked.invalid.removeAll { unreadable.contains($0.index) }
        checked.invalid.append(contentsOf: lines.unreadable)
        checked.invalid.sort { $0.index < $1.index }
        let result = try await eventLog.append(
            AppendBatch(space: space, deviceID: deviceID, sessionID: sessionID, mutations: checked.valid.map { lines.mutations[$0] })
        )
        let response = PushResponse(merging: result, checked: checked, mutations: lines.mutations)
        return PushOutcome(response: response, duplicates: checked.valid.count - response.accepted, invalid: checked.invalid.count)
    }
}

/// The lines of a bulk chunk, read as mutations.
struct BulkLines {
    /// One mutation per non-empty line; a line that could not be read as one holds a
    /// placeholder, listed in ``unreadable``.
    var mutations: [NewMutation] = []
    /// The lines that are JSON objects with a `client_action_id` but not valid mutations.
    var unreadable: [(index: Int, rejection: MutationRejection)] = []

    init(_ body: [UInt8], maxLines: Int) throws {
        var start = 0
        var number = 0
        while start < body.count {
            let end = body[start...].firstIndex(of: UInt8(ascii: "\n")) ?? body.count
            number += 1
            let line = body[start..<end]
            start = end + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard mutations.count < maxLines else {
                throw FerryError(.payloadTooLarge, "a bulk chunk holds at most \(maxLines) lines")
            }
            do {
                mutations.append(try JSONReader.withReader(line) { try NewMutation(keepingPayloadText: &$0) })
            } catch let error as JSONReadError {
                let value: JSONValue
                do {
                    value = try JSONValue(parsing: line)
                } catch {
                    throw FerryError(.badRequest, "line \(number) of the chunk is not valid JSON: \(error)")
                }
                guard let object = value.objectValue else {
                    throw FerryError(.badRequest, "line \(number) of the chunk is not a JSON object")
                }
                guard case .int(let id)? = object["client_action_id"] else {
                    throw FerryError(.badRequest, "line \(number) of the chunk: client_action_id is required, an integer")
                }
                unreadable.append(
                    (mutations.count, MutationRejection(clientActionID: id, reason: .invalid, message: "line \(number): \(error)"))
                )
                mutations.append(
                    NewMutation(
                        clientActionID: id,
                        entity: "",
                        entityKey: "",
                        op: .delete,
                        payload: nil,
                        baseSeq: nil,
                        clientTimestamp: nil
                    )
                )
            }
        }
    }
}
