import FerryCore

extension SyncManager {
    /// A failed cycle as the sync status reports it.
    struct CycleFailure {
        /// The status's reason code.
        var reason: SyncReasonCode
        /// The status's message.
        var message: String
        /// How long the server asked to wait, if it did.
        var retryAfter: Duration?

        /// The failure that `error` ended a cycle with: a transport error's kind, a server
        /// error's `unavailable` as transient, anything else an internal error.
        init(_ error: any Error) {
            switch error {
            case let error as SyncTransportError:
                self.init(reason: SyncReasonCode(error.kind), message: error.description, retryAfter: error.retryAfter)
            case let error as FerryError:
                self.init(reason: error.code == .unavailable ? .transient : .internalError, message: error.description)
            default:
                self.init(reason: .internalError, message: String(describing: error))
            }
        }

        init(reason: SyncReasonCode, message: String, retryAfter: Duration? = nil) {
            self.reason = reason
            self.message = message
            self.retryAfter = retryAfter
        }
    }
}
