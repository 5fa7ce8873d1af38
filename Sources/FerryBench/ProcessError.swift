/// A child process, or a benchmark, that could not run as planned.
package struct ProcessError: Error, CustomStringConvertible {
    /// What went wrong.
    package var message: String

    /// Creates an error saying `message`.
    package init(message: String) { self.message = message }

    /// The message.
    package var description: String { message }
}

/// A benchmark that could not run as planned.
typealias BenchError = ProcessError

extension ProcessError {
    /// Creates an error saying `message`.
    init(_ message: String) { self.init(message: message) }
}
