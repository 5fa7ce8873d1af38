import FerryCore

/// A push request as the server reads it: the payloads are kept as the JSON text that was
/// sent (without insignificant whitespace), checked but not turned into values, because the
/// store keeps that text and pulls send it back as it is.
package struct PushEnvelope: JSONReadable, Sendable {
    /// The space whose log receives the push.
    package var space: String
    /// The writing device.
    package var deviceID: String
    /// The writing session.
    package var sessionID: String
    /// The mutations as sent, not yet checked against the protocol's rules.
    package var mutations: [NewMutation]

    /// Reads a push request's JSON body.
    package init(json reader: inout JSONReader) throws {
        (space, deviceID, sessionID, mutations) = try PushRequest.readMembers(from: &reader) { try NewMutation(keepingPayloadText: &$0) }
    }

    /// The envelope of a push request made in memory: each payload written as the compact
    /// JSON text a client would send.
    package init(_ request: PushRequest) {
        space = request.space
        deviceID = request.deviceID
        sessionID = request.sessionID
        mutations = request.mutations.map { $0.mapPayload { $0.serialized() } }
    }
}
