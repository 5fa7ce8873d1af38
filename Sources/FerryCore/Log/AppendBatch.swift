/// A batch of validated mutations from one (device, session), appended in one transaction.
public struct AppendBatch: Sendable, Hashable {
    /// The space whose log receives the batch; its log is created if it has none yet.
    public var space: String
    /// The writing device.
    public var deviceID: String
    /// The writing session.
    public var sessionID: String
    /// The mutations, in the order they are to be logged.
    public var mutations: [NewMutation]

    /// Creates a batch.
    public init(space: String, deviceID: String, sessionID: String, mutations: [NewMutation]) {
        self.space = space
        self.deviceID = deviceID
        self.sessionID = sessionID
        self.mutations = mutations
    }
}
