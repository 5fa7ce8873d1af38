import Crypto
import FerryCore
import Logging

/// How far a bootstrap from a snapshot has come, for a progress bar or a sync status.
public struct BootstrapProgress: Sendable, Hashable {
    /// The seq of the snapshot: the device pulls from here once it is applied.
    public var snapshotSeq: Int64
    /// Chunks applied, those of an earlier interrupted run included.
    public var chunksDone: Int
    /// Chunks of the snapshot.
    public var chunksTotal: Int
    /// Records applied, those of an earlier interrupted run included.
    public var recordsDone: Int
    /// Records of the snapshot.
    public var recordsTotal: Int
    /// Bytes of the chunks applied, as downloaded.
    public var bytesDone: Int
    /// Bytes of all chunks.
    public var bytesTotal: Int
    /// The bootstrap is over: the cursor is at ``snapshotSeq``.
    public var isFinished: Bool

    /// Creates a progress report.
    public init(
        snapshotSeq: Int64,
        chunksDone: Int,
        chunksTotal: Int,
        recordsDone: Int,
        recordsTotal: Int,
        bytesDone: Int,
        bytesTotal: Int,
        isFinished: Bool = false
    ) {
        self.snapshotSeq = snapshotSeq
        self.chunksDone = chunksDone
        self.chunksTotal = chunksTotal
        self.recordsDone = recordsDone
        self.recordsTotal = recordsTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.isFinished = isFinished
    }
}

extension SyncEngine {
    /// Bootstraps the space from the server's newest snapshot when it is due, and answers
    /// whether it did.
    ///
    /// It is due when a bootstrap is in progress (it resumes), when `forced` (after `410
    /// history_pruned`: the history is gone), or when the cursor is 0 and the newest
    /// manifest's `snapshot_seq` is more than ``bootstrapThreshold`` ahead of it. When the
    /// manifest cannot be read (a server or transport without snapshots, or any other
    /// failure), a device that only may bootstrap pulls the log instead; a forced or resumed
    /// bootstrap throws.
    ///
    /// The bootstrap: fetch the manifest; if a bootstrap in progress follows another
    /// manifest (another snapshot was published since), start again. Starting forgets the
    /// local copy of the space (as a reset does; pending local changes stay). Chunks not
    /// applied yet are downloaded ``chunkConcurrency`` at a time; each body's SHA-256 must be
    /// its id (a mismatch is downloaded again, up to ``chunkAttempts`` times, and never
    /// applied); each chunk is applied in its own transaction and recorded, so a bootstrap
    /// cut short resumes without downloading it again. When all are applied, the cursor
    /// moves to `snapshot_seq` in a last transaction.
    ///
    /// - Throws: ``FerryCore/SyncTransportError`` (`transient` when chunks keep failing
    ///   their checksum, or when forced and the server has no snapshot yet), the store's
    ///   errors, `JSONReadError` for a chunk whose body matches its id but is not records.
    @discardableResult
    public func bootstrapIfDue(
        cursor: LocalStore.Cursor,
        forced: Bool,
        into report: inout Report,
        progress: (@Sendable (BootstrapProgress) -> Void)? = nil
    ) async throws -> Bool {
        let inProgress = try await store.bootstrapState(space: space)
        guard forced || inProgress != nil || cursor.lastSeq == 0 else { return false }
        let manifest: SnapshotManifest
        do {
            manifest = try await transport.manifest(space: space)
        } catch  where !forced && inProgress == nil && !(error is CancellationError) {
            // The snapshot is only a shortcut here: a server without snapshots, or one that cannot
            // answer the manifest now, still serves the log.
            logger.debug("no snapshot to bootstrap from", metadata: ["ferry.space": "\(space)", "ferry.error": "\(error)"])
            return false
        }
        if manifest.snapshotSeq == 0 {
            if forced {
                throw SyncTransportError(.transient, "the server pruned history but has no snapshot yet; retrying later")
            }
            if inProgress != nil {
                // The snapshot followed is gone and none replaced it: pull the log instead.
                try await store.reset(space: space, logID: nil)
                return true
            }
            return false
        }
        if !forced && inProgress == nil && manifest.snapshotSeq - cursor.lastSeq <= bootstrapThreshold {
            return false
        }
        try await bootstrap(from: manifest, resuming: inProgress, into: &report, progress: progress)
        return true
    }

    private func bootstrap(
        from manifest: SnapshotManifest,
        resuming inProgress: LocalStore.BootstrapState?,
        into report: inout Report,
        progress: (@Sendable (BootstrapProgress) -> Void)?
    ) async throws {
        var applied = Set<String>()
        var status = BootstrapProgress(
            snapshotSeq: manifest.snapshotSeq,
            chunksDone: 0,
            chunksTotal: manifest.chunks.count,
            recordsDone: 0,
            recordsTotal: manifest.records,
            bytesDone: 0,
            bytesTotal: manifest.bytes
        )
        if let inProgress, inProgress.follows(manifest) {
            applied = inProgress.appliedChunkIDs
            status.chunksDone = manifest.chunks.filter { applied.contains($0.id) }.count
            status.recordsDone = inProgress.recordsApplied
            status.bytesDone = inProgress.bytesApplied
            logger.notice(
                "resuming the bootstrap from the snapshot",
                metadata: [
                    "ferry.space": "\(space)", "ferry.snapshot_seq": "\(manifest.snapshotSeq)", "ferry.chunks_done": "\(applied.count)",
                ]
            )
        } else {
            if inProgress != nil {
                logger.notice(
                    "the snapshot changed since the bootstrap began: starting it again",
                    metadata: ["ferry.space": "\(space)", "ferry.snapshot_seq": "\(manifest.snapshotSeq)"]
                )
            }
            try await store.beginBootstrap(space: space, manifest: manifest)
        }
        progress?(status)
        var remaining = manifest.chunks.filter { !applied.contains($0.id) }.makeIterator()
        let concurrency = max(1, chunkConcurrency)
        // Each chunk is downloaded, checked and read into records in a child task, so that
        // reading the next chunks runs on another core while this one is written.
        try await withThrowingTaskGroup(of: (SnapshotManifest.Chunk, Int, [SnapshotRecord]).self) { group in
            for _ in 0..<concurrency {
                guard let chunk = remaining.next() else { break }
                group.addTask { try await self.downloadRecords(chunk) }
            }
            while let (chunk, bytes, records) = try await group.next() {
                // The next download starts before this chunk is written.
                if let next = remaining.next() {
                    group.addTask { try await self.downloadRecords(next) }
                }
                let count = try await store.applySnapshotChunk(
                    records,
                    id: chunk.id,
                    bytes: bytes,
                    space: space,
                    snapshotSeq: manifest.snapshotSeq,
                    logID: manifest.logID
                )
                report.bootstrapRecords += count
                status.chunksDone += 1
                status.recordsDone += records.count
                status.bytesDone += bytes
                progress?(status)
            }
        }
        try await store.finishBootstrap(space: space, manifest: manifest)
        report.bootstraps += 1
        status.isFinished = true
        progress?(status)
    }

    /// The records of `chunk`, downloaded and checked, with the body's size.
    private func downloadRecords(_ chunk: SnapshotManifest.Chunk) async throws -> (SnapshotManifest.Chunk, Int, [SnapshotRecord]) {
        let body = try await download(chunk)
        return (chunk, body.count, try SnapshotRecord.lines(of: body))
    }

    /// The body of `chunk`, checked against its id; downloaded again when it does not match.
    private func download(_ chunk: SnapshotManifest.Chunk) async throws -> [UInt8] {
        let attempts = max(1, chunkAttempts)
        for attempt in 1...attempts {
            let body = try await transport.chunk(id: chunk.id)
            if Self.sha256Hex(body) == chunk.id.lowercased() { return body }
            logger.warning(
                "a snapshot chunk does not match its SHA-256: refused",
                metadata: ["ferry.space": "\(space)", "ferry.chunk": "\(chunk.id)", "ferry.attempt": "\(attempt)"]
            )
        }
        throw SyncTransportError(
            .transient,
            "snapshot chunk \(chunk.id) did not match its SHA-256 in \(attempts) downloads; the bootstrap resumes later"
        )
    }

    /// The SHA-256 of `bytes`, 64 lowercase hex digits.
    package static func sha256Hex(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
