import FerryCore

extension MemoryEventLog: SnapshotStore {
    public func snapshotStatus(space: String) async throws -> SnapshotStatus {
        withSnapshots(of: space) { data, head, floor, logID in
            SnapshotStatus(
                headSeq: head,
                logID: logID ?? "",
                floorSeq: floor,
                stateSeq: data.stateSeq,
                snapshotSeq: data.manifests.last?.manifest.snapshotSeq ?? 0
            )
        }
    }

    public func stateRecords(space: String, keys: [RecordKey]) async throws -> [RecordKey: StateRecord] {
        withSnapshots(of: space) { data, _, _, _ in
            var found: [RecordKey: StateRecord] = [:]
            for key in keys { found[key] = data.state[key] }
            return found
        }
    }

    public func updateState(space: String, from: Int64, to: Int64, upserts: [StateRecord], deletes: [RecordKey]) async throws {
        try withSnapshots(of: space) { data, _, _, logID in
            guard logID != nil, data.stateSeq == from else {
                throw FerryError(.conflict, "the snapshot state of space '\(space)' is at \(data.stateSeq), not \(from)")
            }
            for key in deletes where data.state.removeValue(forKey: key) != nil { data.sortedKeys = nil }
            for record in upserts {
                if data.state.updateValue(record, forKey: record.key) == nil { data.sortedKeys = nil }
            }
            data.stateSeq = to
        }
    }

    public func scanState(space: String, after: RecordKey?, limit: Int) async throws -> [StateRecord] {
        withSnapshots(of: space) { data, _, _, _ in
            if data.sortedKeys == nil { data.sortedKeys = data.state.keys.sorted() }
            let keys = data.sortedKeys ?? []
            var start = 0
            if let after {
                var high = keys.count
                while start < high {
                    let middle = (start + high) / 2
                    if keys[middle] <= after { start = middle + 1 } else { high = middle }
                }
            }
            return keys[start..<min(keys.count, start + max(0, limit))].compactMap { data.state[$0] }
        }
    }

    public func storeChunk(space: String, id: String, records: Int, body: [UInt8], at milliseconds: Int64) async throws -> Int64 {
        try withSnapshots(of: space) { data, _, _, logID in
            guard logID != nil else { throw FerryError(.notFound, "space '\(space)' has no log") }
            let id = id.lowercased()
            // Storing a chunk again moves its stored time only: a collection running while a
            // builder publishes keeps the chunks it has just stored.
            if let stored = data.chunks[id] {
                data.chunks[id]?.storedAt = max(stored.storedAt, milliseconds)
                return stored.createdAt
            }
            data.chunks[id] = (records, body, milliseconds, milliseconds)
            return milliseconds
        }
    }

    public func publishManifest(space: String, manifest: SnapshotManifest, at milliseconds: Int64) async throws -> Bool {
        withSnapshots(of: space) { data, _, _, logID in
            guard logID == manifest.logID, data.stateSeq == manifest.snapshotSeq,
                manifest.snapshotSeq > data.manifests.last?.manifest.snapshotSeq ?? 0,
                manifest.chunks.allSatisfy({ data.chunks[$0.id] != nil })
            else { return false }
            if let last = data.manifests.indices.last { data.manifests[last].supersededAt = milliseconds }
            data.manifests.append((manifest, nil))
            return true
        }
    }

    public func newestManifest(space: String) async throws -> SnapshotManifest? {
        withSnapshots(of: space) { data, _, floor, _ in
            guard var manifest = data.manifests.last?.manifest else { return nil }
            manifest.floorSeq = floor
            return manifest
        }
    }

    public func chunkBody(id: String, spaces: [String]) async throws -> [UInt8]? {
        for space in spaces {
            let id = id.lowercased()
            let body = withSnapshots(of: space) { data, _, _, _ in
                data.manifests.contains { $0.manifest.chunks.contains { $0.id == id } } ? data.chunks[id]?.body : nil
            }
            if let body { return body }
        }
        return nil
    }

    public func collectSnapshots(supersededBefore milliseconds: Int64) async throws -> SnapshotCollection {
        let names = withLogs { Array($0.keys) }
        var collection = SnapshotCollection(manifests: 0, chunks: 0)
        for space in names {
            withSnapshots(of: space) { data, _, _, _ in
                let before = data.manifests.count
                data.manifests.removeAll { entry in entry.supersededAt.map { $0 < milliseconds } ?? false }
                collection.manifests += before - data.manifests.count
                let named = Set(data.manifests.flatMap { $0.manifest.chunks.map(\.id) })
                let unnamed = data.chunks.filter { !named.contains($0.key) && $0.value.storedAt < milliseconds }.map(\.key)
                for id in unnamed { data.chunks[id] = nil }
                collection.chunks += unnamed.count
            }
        }
        return collection
    }

    public func prune(space: String, through floor: Int64, dryRun: Bool) async throws -> PruneOutcome {
        pruneLog(of: space, through: floor, dryRun: dryRun)
    }

    public func seqCommitted(space: String, atOrBefore milliseconds: Int64) async throws -> Int64 {
        seqCommitted(in: space, atOrBefore: milliseconds)
    }

    public func logSizes() async throws -> [SpaceLogSize] {
        withLogs { logs in
            logs.map { SpaceLogSize(space: $0.key, headSeq: $0.value.head, floorSeq: $0.value.floor, snapshotSeq: $0.value.snapshotSeq) }
                .sorted { $0.space < $1.space }
        }
    }

    public func logSizes(of spaces: Set<String>) async throws -> [SpaceLogSize] {
        withLogs { logs in
            spaces.sorted().compactMap { space in
                logs[space].map { SpaceLogSize(space: space, headSeq: $0.head, floorSeq: $0.floor, snapshotSeq: $0.snapshotSeq) }
            }
        }
    }

    public func takeWrittenSpaces() -> Set<String>? { watcher.takePublishedSpaces() }
}
