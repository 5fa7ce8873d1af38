import Foundation
import Synchronization

/// Text a child process writes into a pipe, collected as it comes.
package final class ProcessOutput: Sendable {
    private let buffer = Mutex((text: "", closed: false))

    /// Creates an empty collector.
    package init() {}

    /// Everything read so far.
    package var text: String { buffer.withLock { $0.text } }

    /// Whether the writer closed the pipe (so ``text`` is complete).
    package var closed: Bool { buffer.withLock { $0.closed } }

    /// Reads `pipe` in the background until its writer closes it.
    package func collect(from pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.buffer.withLock { $0.closed = true }
                return
            }
            self.buffer.withLock { $0.text += String(decoding: data, as: UTF8.self) }
        }
    }
}
