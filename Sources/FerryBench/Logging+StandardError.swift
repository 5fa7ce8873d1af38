import Logging

/// Sends the process's logs to standard error from `level` up (a command sets this up once).
package func logToStandardError(from level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
