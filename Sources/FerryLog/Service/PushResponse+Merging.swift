import FerryCore

extension PushResponse {
    /// The answer to a push of `mutations`: the store's outcome for each mutation that passed
    /// validation (`stored`, in the order of `checked.valid`), and the validator's rejection
    /// of each other one, merged back into request order.
    ///
    /// A mutation stored now is acknowledged; one whose triple was stored before is rejected
    /// as `duplicate` with its seq; an invalid one keeps its `invalid` rejection.
    package init(merging stored: AppendResult, checked: PushValidator.Checked, mutations: [NewMutation]) {
        var rejections = [MutationRejection?](repeating: nil, count: mutations.count)
        var seqs = [Int64?](repeating: nil, count: mutations.count)
        for (index, rejection) in checked.invalid { rejections[index] = rejection }
        for (index, outcome) in zip(checked.valid, stored.outcomes) {
            switch outcome {
            case .stored(let seq):
                seqs[index] = seq
            case .duplicate(let seq):
                rejections[index] = MutationRejection(clientActionID: mutations[index].clientActionID, reason: .duplicate, seq: seq)
            }
        }
        var acks: [MutationAck] = []
        acks.reserveCapacity(mutations.count)
        var rejected: [MutationRejection] = []
        for index in mutations.indices {
            if let seq = seqs[index] {
                acks.append(MutationAck(clientActionID: mutations[index].clientActionID, seq: seq))
            } else if let rejection = rejections[index] {
                rejected.append(rejection)
            }
        }
        self.init(
            accepted: acks.count,
            acks: acks,
            rejected: rejected,
            conflicts: stored.conflicts,
            headSeq: stored.headSeq,
            logID: stored.logID
        )
    }
}
