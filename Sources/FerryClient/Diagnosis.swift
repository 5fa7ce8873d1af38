/// One check of ``LocalStore/diagnose(_:clock:)`` (or of a server, ``Diagnosis/serverChecks(_:space:)``):
/// what was checked, how it went, what was found and, when it did not go well, the fix.
public struct DiagnosisCheck: Sendable, Hashable, Codable {
    /// How a check went.
    public enum Status: String, Sendable, Hashable, Codable, Comparable {
        /// Nothing to do.
        case ok
        /// Worth a look; syncing works.
        case warn
        /// Syncing is broken or loses changes until fixed.
        case fail

        public static func < (lhs: Status, rhs: Status) -> Bool {
            let order: [Status] = [.ok, .warn, .fail]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    /// What was checked, short: `triggers notes`, `outbox`, `lease`, `token`.
    public var name: String
    /// How it went.
    public var status: Status
    /// What was found, on one line.
    public var detail: String
    /// What to do, on one line, when the status is not ``Status/ok``.
    public var fix: String?

    /// Creates a check's result.
    public init(name: String, status: Status, detail: String, fix: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = fix
    }
}

/// The checks of a database (and of its server), for `ferry doctor` and for apps that show
/// their own diagnostics.
public struct Diagnosis: Sendable, Hashable {
    /// The checks, in the order they ran.
    public var checks: [DiagnosisCheck]
    /// The spaces the database has a cursor for, sorted.
    public var spaces: [String]

    /// Creates a diagnosis of `checks`.
    public init(checks: [DiagnosisCheck], spaces: [String] = []) {
        self.checks = checks
        self.spaces = spaces
    }

    /// The worst status of the checks (``DiagnosisCheck/Status/ok`` when there are none).
    public var status: DiagnosisCheck.Status {
        checks.map(\.status).max() ?? .ok
    }

    /// Whether a check failed.
    public var hasFailures: Bool { status == .fail }
}
