import GRDB

extension LocalStore {
    /// The name of a value kept in the store's metadata. An open set: an app may keep its
    /// own values beside Ferry's.
    public struct MetadataKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The key's name in the database.
        public var rawValue: String

        /// Creates a key from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A refresh token kept between runs, so that a later run can get a new access
        /// token: `ferry sync` keeps each rotated one here.
        public static let refreshToken = MetadataKey(rawValue: "cli_refresh_token")
        /// This installation's id (read only; see ``LocalStore/deviceID``).
        public static let deviceID = MetadataKey(rawValue: "device_id")
        /// The current opening's id (read only; see ``LocalStore/sessionID``).
        public static let sessionID = MetadataKey(rawValue: "session_id")

        public var description: String { rawValue }

        /// Keys only the store itself writes.
        static let reserved: Set<MetadataKey> = [.deviceID, .sessionID]
    }

    /// The value kept under `key`, if any.
    public func metadata(_ key: MetadataKey) throws -> String? {
        try writer.read { db in try Self.metadata(key, db) }
    }

    /// The value kept under `key`, if any.
    public func metadata(_ key: MetadataKey) async throws -> String? {
        try await writer.read { db in try Self.metadata(key, db) }
    }

    /// Keeps `value` under `key`, or removes the key when `value` is `nil`.
    /// - Throws: ``LocalStoreError`` `reservedKey` for a key only the store writes.
    public func setMetadata(_ value: String?, for key: MetadataKey) throws {
        try Self.checkWritable(key)
        try writer.write { db in try Self.setMetadata(value, for: key, db) }
    }

    /// Keeps `value` under `key`, or removes the key when `value` is `nil`.
    /// - Throws: ``LocalStoreError`` `reservedKey` for a key only the store writes.
    public func setMetadata(_ value: String?, for key: MetadataKey) async throws {
        try Self.checkWritable(key)
        try await writer.write { db in try Self.setMetadata(value, for: key, db) }
    }

    private static func checkWritable(_ key: MetadataKey) throws {
        guard !MetadataKey.reserved.contains(key) else {
            throw LocalStoreError(.reservedKey, "the metadata key '\(key)' is written by the store only")
        }
    }

    private static func metadata(_ key: MetadataKey, _ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM ferry_meta WHERE key = ?", arguments: [key.rawValue])
    }

    private static func setMetadata(_ value: String?, for key: MetadataKey, _ db: Database) throws {
        guard let value else {
            try db.execute(sql: "DELETE FROM ferry_meta WHERE key = ?", arguments: [key.rawValue])
            return
        }
        try db.execute(
            sql: "INSERT INTO ferry_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [key.rawValue, value]
        )
    }
}
