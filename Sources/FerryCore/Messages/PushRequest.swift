/// The body of `POST /sync/mutations/push`.
public struct PushRequest: Codable, Sendable, Hashable {
    /// The space the mutations belong to.
    public var space: String
    /// The writing device.
    public var deviceID: String
    /// The writing device's current session.
    public var sessionID: String
    /// The mutations, in the order the server is to log them.
    public var mutations: [MutationInput]

    /// Creates a push request.
    public init(space: String, deviceID: String, sessionID: String, mutations: [MutationInput]) {
        self.space = space
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.mutations = mutations
    }

    enum CodingKeys: String, CodingKey {
        case space
        case deviceID = "device_id"
        case sessionID = "session_id"
        case mutations
    }
}
