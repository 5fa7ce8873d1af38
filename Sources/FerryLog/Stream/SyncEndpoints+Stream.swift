import FerryCore

extension SyncEndpoints {
    /// Checks a stream request, asks `authorize` whether the caller may read its space, and
    /// reads where the device stands: the lines to send, read from the store page by page as
    /// they are consumed. Nothing is read before the first page is asked for.
    /// - Throws: ``FerryError`` (`bad_request`, or what `authorize` throws) before anything
    ///   is streamed.
    package func openStream(_ request: StreamRequest, authorize: (String) throws -> Void) async throws -> StreamLines {
        try authorize(request.space)
        let position = try await eventLog.streamPosition(space: request.space, deviceID: request.deviceID)
        return StreamLines(
            eventLog: eventLog,
            space: request.space,
            types: request.types,
            position: position,
            pageSize: configuration.streamPageSize
        )
    }

    /// Checks an ack request and stores its acks in one transaction: `400` naming the first
    /// bad ack (not of the grammar, or above the head) and nothing stored when one is bad.
    /// Answers how many acks the request held.
    package func acknowledge(_ request: AckRequest, authorize: (String) throws -> Void) async throws -> Int {
        try ProtocolRules.requireValidSpace(request.space)
        try ProtocolRules.requireValidClientID(request.deviceID, parameter: "device_id")
        guard !request.acks.isEmpty, request.acks.count <= configuration.maxAcksPerRequest else {
            throw FerryError(
                .badRequest,
                "acks must hold 1 to \(configuration.maxAcksPerRequest) acks; it holds \(request.acks.count)"
            )
        }
        try authorize(request.space)
        let position = try await eventLog.streamPosition(space: request.space, deviceID: request.deviceID)
        var acks: [StreamAck] = []
        acks.reserveCapacity(request.acks.count)
        for (index, text) in request.acks.enumerated() {
            let ack: StreamAck
            do {
                ack = try StreamAck(parsing: text)
            } catch let error as FerryError {
                throw FerryError(.badRequest, "acks[\(index)]: \(error.message)")
            }
            guard ack.seq <= position.headSeq else {
                throw FerryError(
                    .badRequest,
                    "acks[\(index)]: ack \"\(ack)\" names seq \(ack.seq), above the head of space '\(request.space)' (\(position.headSeq))"
                )
            }
            acks.append(ack)
        }
        try await eventLog.storeCheckpoints(
            CheckpointUpdate(space: request.space, deviceID: request.deviceID, logID: position.logID, merged: StreamAck.Merged(acks))
        )
        return acks.count
    }

    /// The device's checkpoints in the space, as acks sorted by type.
    package func checkpoints(space: String, deviceID: String, authorize: (String) throws -> Void) async throws -> [StreamAck] {
        try ProtocolRules.requireValidSpace(space)
        try ProtocolRules.requireValidClientID(deviceID, parameter: "device_id")
        try authorize(space)
        let position = try await eventLog.streamPosition(space: space, deviceID: deviceID)
        return try position.checkpoints.sorted { $0.key < $1.key }.map { try StreamAck(type: $0.key, seq: $0.value) }
    }

    /// Clears the device's checkpoints in the space: all, or those of `types`.
    package func clearCheckpoints(
        space: String,
        deviceID: String,
        types: [String]?,
        authorize: (String) throws -> Void
    ) async throws {
        try ProtocolRules.requireValidSpace(space)
        try ProtocolRules.requireValidClientID(deviceID, parameter: "device_id")
        if let types {
            guard !types.isEmpty, types.count <= StreamRequest.maxTypes else {
                throw FerryError(.badRequest, "types must list 1 to \(StreamRequest.maxTypes) types")
            }
            for type in types where !ProtocolRules.isValidEntity(type) {
                throw FerryError(.badRequest, "types: '\(type.prefix(80))' is not a type (an entity name or SyncComplete)")
            }
        }
        try authorize(space)
        try await eventLog.clearCheckpoints(space: space, deviceID: deviceID, types: types)
    }
}

/// The NDJSON lines of one stream, as pages: each element is the text of several whole
/// lines, read from the store when it is asked for, so that a long stream is never held in
/// memory and a consumer that stops asking stops the reading.
package struct StreamLines: AsyncSequence, Sendable {
    /// The text of one or more whole lines, and how many events (not counting
    /// `SyncComplete` or `SyncReset`) it holds.
    package struct Page: Sendable {
        /// NDJSON text: whole lines, each ending with `\n`.
        package var bytes: [UInt8]
        /// How many mutation events the page holds.
        package var events: Int
    }

    let eventLog: any EventLog
    let space: String
    let types: [String]
    /// Where the device stood when the stream began; its head is the stream's upper bound.
    package let position: StreamPosition
    let pageSize: Int

    /// Whether the stream is one `SyncReset` line.
    package var isReset: Bool { position.needsReset(types: types) }

    package func makeAsyncIterator() -> Iterator {
        Iterator(lines: self)
    }

    /// Calls `body` with each page in order, reading the next page from the store while
    /// `body` handles this one (writes it to a connection, say). When `body` throws, the read
    /// under way is cancelled and nothing more is read.
    package func forEachPage(_ body: (Page) async throws -> Void) async throws {
        let first = makeAsyncIterator()
        var next = Task { [first] in
            var iterator = first
            return (page: try await iterator.next(), rest: iterator)
        }
        defer { next.cancel() }
        while true {
            let (page, rest) = try await withTaskCancellationHandler {
                try await next.value
            } onCancel: { [next] in
                next.cancel()
            }
            guard let page else { return }
            next = Task { [rest] in
                var iterator = rest
                return (page: try await iterator.next(), rest: iterator)
            }
            try await body(page)
        }
    }

    /// Reads one page of the store per call.
    package struct Iterator: AsyncIteratorProtocol, Sendable {
        private let lines: StreamLines
        private let bounds: [String: Int64]
        /// The store's retention, when it keeps any: its floor is read again after each page.
        private let retention: (any SnapshotStore)?
        private var cursor: Int64
        private var state = State.reading

        private enum State: Sendable {
            case reading
            case complete
            case finished
        }

        init(lines: StreamLines) {
            self.lines = lines
            var bounds: [String: Int64] = [:]
            for type in lines.types { bounds[type] = lines.position.lowerBound(of: type) }
            self.bounds = bounds
            self.retention = lines.eventLog as? any SnapshotStore
            self.cursor = bounds.values.min() ?? lines.position.headSeq
            if lines.isReset { state = .complete }
        }

        package mutating func next() async throws -> Page? {
            while true {
                switch state {
                case .finished:
                    return nil
                case .complete:
                    state = .finished
                    var writer = JSONWriter(capacity: 96)
                    if lines.isReset {
                        writer.raw(#"{"type":"SyncReset","data":{},"ack":"SyncReset|0"}"#.utf8)
                    } else {
                        let head = lines.position.headSeq
                        writer.raw(#"{"type":"SyncComplete","data":{"head_seq":"#.utf8)
                        writer.int(head)
                        writer.raw(#"},"ack":"SyncComplete|"#.utf8)
                        writer.int(head)
                        writer.raw(#""}"#.utf8)
                    }
                    writer.byte(UInt8(ascii: "\n"))
                    return Page(bytes: writer.bytes, events: 0)
                case .reading:
                    try Task.checkCancellation()
                    let head = lines.position.headSeq
                    let mutations =
                        cursor < head
                        ? try await lines.eventLog.readStream(
                            space: lines.space,
                            types: lines.types,
                            after: cursor,
                            through: head,
                            limit: lines.pageSize
                        ) : []
                    // A prune that committed before the page was read may have deleted some
                    // of its range: the floor read after it tells. The body is then cut
                    // short (nothing past the gap is sent); the next stream answers SyncReset.
                    if let retention {
                        let floor = try await retention.snapshotStatus(space: lines.space).floorSeq
                        if floor > cursor {
                            throw FerryError.historyPruned(space: lines.space, since: cursor, floorSeq: floor)
                        }
                    }
                    if mutations.count < lines.pageSize { state = .complete }
                    guard let last = mutations.last else { continue }
                    cursor = last.seq
                    let page = write(mutations)
                    if page.events > 0 { return page }
                }
            }
        }

        /// One line per mutation above its type's checkpoint.
        private func write(_ mutations: [StoredMutation]) -> Page {
            var payloadBytes = 0
            for mutation in mutations { payloadBytes += mutation.payload?.count ?? 0 }
            var writer = JSONWriter(capacity: payloadBytes + mutations.count * 320)
            var lastMilliseconds = Int64.min
            var lastTime: [UInt8] = []
            var events = 0
            for mutation in mutations where mutation.seq > bounds[mutation.entity] ?? Int64.max {
                if mutation.occurredAtMilliseconds != lastMilliseconds {
                    lastMilliseconds = mutation.occurredAtMilliseconds
                    lastTime = Array(RFC3339.format(millisecondsSince1970: lastMilliseconds).utf8)
                }
                // Entity names need no escapes (their grammar allows none of the characters).
                writer.raw(#"{"type":""#.utf8)
                writer.raw(mutation.entity.utf8)
                writer.raw(#"","data":"#.utf8)
                mutation.writeJSON(to: &writer, occurredAt: lastTime) { $0.raw($1) }
                writer.raw(#","ack":""#.utf8)
                writer.raw(mutation.entity.utf8)
                writer.byte(UInt8(ascii: "|"))
                writer.int(mutation.seq)
                writer.raw("\"}\n".utf8)
                events += 1
            }
            return Page(bytes: writer.bytes, events: events)
        }
    }
}
