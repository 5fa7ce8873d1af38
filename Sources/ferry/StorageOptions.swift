import ArgumentParser
import FerryServer
import Foundation

/// Options that pick the server's storage, shared by `serve` and `token`.
struct StorageOptions: ParsableArguments {
    @Option(name: .long, help: "The data folder (env FERRY_DATA, default ./ferry-data).")
    var data: String?

    @Option(name: .long, help: "Commit durability: full or normal (env FERRY_DURABILITY, default full).")
    var durability: String?

    /// The data folder after flags, environment and default.
    var dataFolder: String { data ?? Environment.value("FERRY_DATA") ?? "./ferry-data" }

    /// The path of the SQLite file in the data folder.
    var databasePath: String { URL(fileURLWithPath: dataFolder).appendingPathComponent("ferry.sqlite").path }

    func sqliteConfiguration() throws -> SQLiteConfiguration {
        let name = durability ?? Environment.value("FERRY_DURABILITY") ?? "full"
        guard let level = SQLiteConfiguration.Durability(rawValue: name) else {
            throw ValidationError("durability must be full or normal, not '\(name)'")
        }
        return SQLiteConfiguration(path: databasePath, durability: level)
    }
}

/// Reading `FERRY_`-prefixed settings from the environment.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// A flag's value, else the environment's, else the default; a malformed number in the
    /// environment is an error, not silently the default.
    static func integer(_ flag: Int?, _ name: String, default fallback: Int) throws -> Int {
        if let flag { return flag }
        guard let text = value(name) else { return fallback }
        guard let number = Int(text) else { throw ValidationError("\(name) must be an integer, not '\(text)'") }
        return number
    }
}
