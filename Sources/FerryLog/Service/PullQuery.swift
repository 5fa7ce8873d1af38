import FerryCore

/// The query of a pull, checked against the protocol's rules and the server's limits.
package struct PullQuery: Sendable, Hashable {
    /// The space to read.
    package var space: String
    /// The cursor: mutations with a higher seq are read.
    package var since: Int64
    /// The page size, within the server's limits.
    package var limit: Int
    /// The device whose mutations are left out.
    package var excludeDevice: String?
    /// How long to hold the pull when nothing is new.
    package var wait: Duration?

    /// A query from the text of the request's parameters (`space`, `since_seq`, `limit`,
    /// `exclude_device`, `wait`), as `parameter` answers them.
    /// - Throws: ``FerryError`` with code `bad_request` naming the parameter that is wrong.
    package init(parameter: (String) -> Substring?, configuration: ServerConfiguration) throws {
        guard let space = parameter("space").map(String.init) else { throw FerryError(.badRequest, "space is required") }
        try ProtocolRules.requireValidSpace(space)
        guard let sinceText = parameter("since_seq") else { throw FerryError(.badRequest, "since_seq is required") }
        guard let since = Int64(sinceText), since >= 0 else {
            throw FerryError(.badRequest, "since_seq must be an integer ≥ 0")
        }
        var limit: Int?
        if let limitText = parameter("limit") {
            if let value = Int(limitText), value >= 1 {
                limit = value
            } else if !limitText.isEmpty, limitText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                limitText.contains(where: { $0 != "0" })
            {
                // Too large for an integer, but a valid count: treated as the maximum.
                limit = configuration.maxPullLimit
            } else {
                throw FerryError(.badRequest, "limit must be an integer ≥ 1")
            }
        }
        var wait: Duration?
        if let waitText = parameter("wait") {
            // A decimal number (as JSON writes one): `Double(_:)` alone also reads hexadecimal
            // (`0x10`), `inf` and `nan`.
            let isDecimal =
                waitText.first != "+"
                && waitText.utf8.allSatisfy { byte in
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                        || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "-")
                        || byte == UInt8(ascii: "+")
                }
            guard isDecimal, let seconds = Double(waitText), seconds.isFinite, seconds >= 0 else {
                throw FerryError(.badRequest, "wait must be a number of seconds from 0 to \(configuration.maxWaitSeconds)")
            }
            wait = .milliseconds(Int64((min(seconds, Double(Int32.max)) * 1000).rounded()))
        }
        try self.init(
            space: space,
            since: since,
            limit: limit,
            excludeDevice: parameter("exclude_device").map(String.init),
            wait: wait,
            configuration: configuration
        )
    }

    /// A query from typed values: `limit` `nil` is the server's default page size, a larger
    /// one is cut to its maximum.
    /// - Throws: ``FerryError`` with code `bad_request` naming the value that is wrong.
    package init(
        space: String,
        since: Int64,
        limit: Int?,
        excludeDevice: String?,
        wait: Duration?,
        configuration: ServerConfiguration
    ) throws {
        try ProtocolRules.requireValidSpace(space)
        guard since >= 0 else { throw FerryError(.badRequest, "since_seq must be an integer ≥ 0") }
        if let limit, limit < 1 { throw FerryError(.badRequest, "limit must be an integer ≥ 1") }
        if let excludeDevice { try ProtocolRules.requireValidClientID(excludeDevice, parameter: "exclude_device") }
        if let wait, wait < .zero || wait > .seconds(configuration.maxWaitSeconds) {
            throw FerryError(.badRequest, "wait must be a number of seconds from 0 to \(configuration.maxWaitSeconds)")
        }
        self.space = space
        self.since = since
        self.limit = min(limit ?? configuration.defaultPullLimit, configuration.maxPullLimit)
        self.excludeDevice = excludeDevice
        self.wait = wait
    }
}
