import FerryCore

/// Checks a push request against the protocol's rules, the same for every store.
///
/// Problems with the request as a whole (names, ids, too many mutations) are thrown as
/// `400`; a payload over the limit is thrown as `413`; problems of one mutation become an
/// `invalid` rejection of that mutation only, and the others go on.
package struct PushValidator {
    /// The limits the checks apply.
    package let configuration: ServerConfiguration

    /// Creates a validator applying `configuration`'s limits.
    package init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    /// The outcome of the checks: the positions of the mutations that passed, and the
    /// rejections of the others, with their positions in the request.
    package struct Checked {
        /// The positions of the mutations that passed.
        package var valid: [Int] = []
        /// The rejections of the others, with their positions.
        package var invalid: [(index: Int, rejection: MutationRejection)] = []

        /// No mutation checked yet.
        package init() {}
    }

    /// Checks the request as a whole: `400` for a bad space, device or session id, or too
    /// many mutations.
    package func checkEnvelope(_ request: PushEnvelope) throws {
        try ProtocolRules.requireValidSpace(request.space)
        try ProtocolRules.requireValidClientID(request.deviceID, parameter: "device_id")
        try ProtocolRules.requireValidClientID(request.sessionID, parameter: "session_id")
        guard request.mutations.count <= configuration.maxMutationsPerPush else {
            throw FerryError(
                .badRequest,
                "a push holds at most \(configuration.maxMutationsPerPush) mutations, this one has \(request.mutations.count)"
            )
        }
    }

    /// Checks each mutation: a bad one becomes an `invalid` rejection; a payload over the
    /// limit is thrown as `413`.
    package func checkMutations(_ mutations: [NewMutation]) throws -> Checked {
        var checked = Checked()
        checked.valid.reserveCapacity(mutations.count)
        for (index, mutation) in mutations.enumerated() {
            if let problem = problem(with: mutation) {
                checked.invalid.append(
                    (index, MutationRejection(clientActionID: mutation.clientActionID, reason: .invalid, message: problem))
                )
                continue
            }
            if let payload = mutation.payload, payload.count > configuration.maxPayloadBytes {
                throw FerryError(
                    .payloadTooLarge,
                    "the payload of client_action_id \(mutation.clientActionID) is \(payload.count) bytes; at most \(configuration.maxPayloadBytes) are accepted"
                )
            }
            checked.valid.append(index)
        }
        return checked
    }

    /// What is wrong with one mutation, or `nil`.
    private func problem(with input: NewMutation) -> String? {
        guard input.clientActionID > 0 else { return "client_action_id must be a positive integer" }
        guard ProtocolRules.isValidEntity(input.entity) else { return "entity must match ^[A-Za-z][A-Za-z0-9_.-]{0,63}$" }
        guard ProtocolRules.isValidEntityKey(input.entityKey) else { return "entity_key must be 1 to 256 characters" }
        guard input.op.isKnown else { return "op must be upsert, patch or delete" }
        // The payload is compact JSON text, checked when it was read: an object starts with `{`.
        switch input.payload {
        case .none:
            if input.op != .delete { return "payload is required for \(input.op)" }
        case .some(let text) where text.first == UInt8(ascii: "{"):
            break
        case .some:
            return "payload must be a JSON object"
        }
        if let base = input.baseSeq, base < 0 { return "base_seq must not be negative" }
        if let timestamp = input.clientTimestamp, !RFC3339.isValid(timestamp) {
            return "client_timestamp must be an RFC 3339 date-time"
        }
        return nil
    }
}
