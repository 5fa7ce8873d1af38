import FerryCore
import FerryLog
import Foundation
import GRDB

/// Settings of the SQLite file that holds a server's logs and tokens.
public struct SQLiteConfiguration: Sendable {
    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=FULL`: a commit survives a power loss once answered. The default.
        case full
        /// `synchronous=NORMAL`: a commit survives a crash of the process, but the last
        /// transactions may be lost on a power loss. Faster.
        case normal
    }

    /// The database file's path.
    public var path: String
    /// How hard a commit waits for the disk. Default ``Durability/full``.
    public var durability: Durability
    /// How long a statement waits for another process's lock (for example `ferry token
    /// create` run beside a server). Default 5 seconds.
    public var busyTimeout: Duration
    /// The most concurrent readers. Default 8.
    public var maximumReaderCount: Int

    /// Creates a configuration with the documented defaults.
    public init(path: String, durability: Durability = .full, busyTimeout: Duration = .seconds(5), maximumReaderCount: Int = 8) {
        self.path = path
        self.durability = durability
        self.busyTimeout = busyTimeout
        self.maximumReaderCount = maximumReaderCount
    }
}

/// The server's SQLite database: one file in WAL mode, migrated when opened, shared by
/// ``SQLiteEventLog`` and ``SQLiteTokenStore``.
public final class SQLiteDatabase: Sendable {
    /// The pool of connections: one writer, several readers on WAL snapshots.
    public let pool: DatabasePool

    /// Opens (creating when absent) and migrates the database at `configuration.path`.
    public init(configuration: SQLiteConfiguration) throws {
        var config = Configuration()
        config.busyMode = .timeout(TimeInterval(configuration.busyTimeout.components.seconds))
        config.maximumReaderCount = configuration.maximumReaderCount
        let synchronous = configuration.durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        let directory = URL(fileURLWithPath: configuration.path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        pool = try DatabasePool(path: configuration.path, configuration: config)
        try Self.migrator.migrate(pool)
    }

    /// Runs `work` in a write transaction; a database that is busy, locked, failing to read
    /// or write, or full is reported as ``FerryCore/FerryError`` `unavailable` (`503`, retry
    /// later), as the PostgreSQL store reports its outages.
    public func write<T: Sendable>(_ work: @Sendable (Database) throws -> T) async throws -> T {
        try await Self.mappingOutages { try await pool.write(work) }
    }

    /// Runs `work` on a read-only snapshot; outages are reported as in ``write(_:)``.
    public func read<T: Sendable>(_ work: @Sendable (Database) throws -> T) async throws -> T {
        try await Self.mappingOutages { try await pool.read(work) }
    }

    private static func mappingOutages<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL].contains(error.resultCode) {
            throw FerryError(.unavailable, "the storage is unavailable, retry later", underlying: error)
        }
    }

    /// The schema's history; a later version adds migrations, never edits these.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE space (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        log_id TEXT NOT NULL,
                        head_seq INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE mutation (
                        space_id INTEGER NOT NULL REFERENCES space(id),
                        seq INTEGER NOT NULL,
                        device_id TEXT NOT NULL,
                        session_id TEXT NOT NULL,
                        client_action_id INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        op TEXT NOT NULL,
                        payload BLOB,
                        base_seq INTEGER,
                        client_timestamp TEXT,
                        occurred_at INTEGER NOT NULL,
                        PRIMARY KEY (space_id, seq)
                    ) WITHOUT ROWID;
                    CREATE UNIQUE INDEX mutation_triple
                        ON mutation (space_id, device_id, session_id, client_action_id);
                    CREATE TABLE record_head (
                        space_id INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        device_id TEXT NOT NULL,
                        other_seq INTEGER NOT NULL,
                        PRIMARY KEY (space_id, entity, entity_key)
                    ) WITHOUT ROWID;
                    CREATE TABLE token_grant (
                        id TEXT PRIMARY KEY,
                        spaces TEXT NOT NULL,
                        access_ttl INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE token (
                        hash TEXT PRIMARY KEY,
                        grant_id TEXT NOT NULL REFERENCES token_grant(id),
                        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
                        expires_at INTEGER,
                        used_at INTEGER,
                        created_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX token_by_grant ON token (grant_id);
                    """
            )
        }
        migrator.registerMigration("v2 stream checkpoints") { db in
            // Keyed by the space's name, not its row, and beside the log id they were acked
            // against: a log that is replaced finds the old checkpoints and resets the device.
            try db.execute(
                sql: """
                    CREATE TABLE stream_checkpoint (
                        space TEXT NOT NULL,
                        device_id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        log_id TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (space, device_id, type)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v3 snapshots") { db in
            // The schema of `SQLiteEventLog+Snapshot.swift`: the space's floor and state seq,
            // the state table, chunks stored once per space, manifests and the chunks they
            // name in order, and the runs of dedup triples of pruned mutations. Text compares
            // as BINARY (UTF-8 bytes), the order snapshots list records in.
            try db.execute(
                sql: """
                    ALTER TABLE space ADD COLUMN floor_seq INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE space ADD COLUMN state_seq INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE snapshot_state (
                        space_id INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        entity_key TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        seq INTEGER NOT NULL,
                        PRIMARY KEY (space_id, entity, entity_key)
                    ) WITHOUT ROWID;
                    CREATE TABLE snapshot_chunk (
                        space_id INTEGER NOT NULL,
                        id TEXT NOT NULL,
                        records INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        body BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        stored_at INTEGER NOT NULL,
                        PRIMARY KEY (space_id, id)
                    );
                    CREATE TABLE snapshot_manifest (
                        space_id INTEGER NOT NULL,
                        snapshot_seq INTEGER NOT NULL,
                        version INTEGER NOT NULL,
                        log_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        superseded_at INTEGER,
                        PRIMARY KEY (space_id, snapshot_seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE snapshot_manifest_chunk (
                        space_id INTEGER NOT NULL,
                        snapshot_seq INTEGER NOT NULL,
                        position INTEGER NOT NULL,
                        chunk_id TEXT NOT NULL,
                        PRIMARY KEY (space_id, snapshot_seq, position)
                    ) WITHOUT ROWID;
                    CREATE INDEX snapshot_manifest_chunk_by_chunk ON snapshot_manifest_chunk (space_id, chunk_id);
                    CREATE TABLE pruned_triple_run (
                        space_id INTEGER NOT NULL,
                        device_id TEXT NOT NULL,
                        session_id TEXT NOT NULL,
                        first_action_id INTEGER NOT NULL,
                        last_action_id INTEGER NOT NULL,
                        first_seq INTEGER NOT NULL,
                        PRIMARY KEY (space_id, device_id, session_id, first_action_id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v4 admin grants") { db in
            // An admin grant's tokens reach the /admin routes and no space; every grant made
            // before is a grant of spaces.
            try db.execute(sql: "ALTER TABLE token_grant ADD COLUMN admin BOOLEAN NOT NULL DEFAULT 0")
        }
        return migrator
    }
}
