/// A bulk chunk of mutations for `POST /sync/push` (protocol, "Bootstrap snapshots"): an
/// NDJSON body, one mutation per line as in a push request, named by its SHA-256.
public struct BulkPushRequest: Sendable, Hashable {
    /// The space the mutations belong to.
    public var space: String
    /// The writing device.
    public var deviceID: String
    /// The writing device's session.
    public var sessionID: String
    /// The NDJSON body.
    public var body: [UInt8]
    /// The SHA-256 of ``body``, 64 lowercase hex digits: the `X-Chunk-Id` header.
    public var chunkID: String

    /// Creates a request; `chunkID` must be the SHA-256 of `body`.
    public init(space: String, deviceID: String, sessionID: String, body: [UInt8], chunkID: String) {
        self.space = space
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.body = body
        self.chunkID = chunkID
    }

    /// The NDJSON body of `mutations`: one compact JSON object per line.
    public static func body(of mutations: some Sequence<MutationInput>) -> [UInt8] {
        var writer = JSONWriter(capacity: 4096)
        for mutation in mutations {
            mutation.writeJSON(to: &writer)
            writer.byte(UInt8(ascii: "\n"))
        }
        return writer.bytes
    }
}
