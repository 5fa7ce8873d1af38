import FerryCore
import Foundation
import GRDB
import Logging

extension LocalStore {
    /// Opens Ferry's store in the existing SQLite database at `path`, for a tool that works
    /// on an app's database beside the app (as `ferry track`, `ferry sync` and `ferry status`
    /// do): a `DatabaseQueue` that waits up to `busyTimeout` for the app's locks.
    /// - Throws: ``LocalStoreError`` with code `no_database` when there is no file at `path`.
    public static func open(
        existingDatabaseAt path: String,
        busyTimeout: Duration = .seconds(10),
        clock: WallClock = .system,
        logger: Logger = Logger(label: "ferry.client", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> LocalStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LocalStoreError(.noDatabase, "no database at \(path)")
        }
        return try open(databaseAt: path, busyTimeout: busyTimeout, clock: clock, logger: logger)
    }

    /// Opens Ferry's store in the SQLite database at `path`, creating the file if there is
    /// none (as `ferry delta` does): a `DatabaseQueue` that waits up to `busyTimeout` for
    /// other programs' locks.
    public static func open(
        databaseAt path: String,
        busyTimeout: Duration = .seconds(10),
        clock: WallClock = .system,
        logger: Logger = Logger(label: "ferry.client", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> LocalStore {
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        return try LocalStore(try DatabaseQueue(path: path, configuration: configuration), clock: clock, logger: logger)
    }
}
