/// The page tokens a DAV source hands out: opaque to callers, but carrying enough to start
/// over when the source no longer holds the drain they belong to (another instance of the
/// source, or a drain dropped to make room).
enum DAVPageToken: Sendable, Hashable {
    /// A page of the updated drain `drain`: its members from `offset` on, in the round that
    /// the `sync-collection` report from the sync token `round` answered.
    case updated(drain: String, offset: Int, round: String)
    /// A page of the deleted drain `drain` that began from the sync token `delta`: its
    /// deletions from `offset` on.
    case deleted(drain: String, offset: Int, delta: String)

    /// The token as text: a kind letter, the drain, the offset and the sync token, separated
    /// by spaces (the sync token last, so that it may hold anything).
    var text: String {
        switch self {
        case .updated(let drain, let offset, let round): "u \(drain) \(offset) \(round)"
        case .deleted(let drain, let offset, let delta): "d \(drain) \(offset) \(delta)"
        }
    }

    /// Reads a token written by ``text``; `nil` for anything else.
    init?(_ text: String) {
        let fields = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 4, !fields[1].isEmpty, let offset = Int(fields[2]), offset >= 0 else { return nil }
        switch fields[0] {
        case "u": self = .updated(drain: String(fields[1]), offset: offset, round: String(fields[3]))
        case "d": self = .deleted(drain: String(fields[1]), offset: offset, delta: String(fields[3]))
        default: return nil
        }
    }
}
