import FerryCore

/// One `sync-collection` report, read: a round of a drain.
struct DAVSyncRound: Sendable, Equatable {
    /// The sync token the report was sent with (empty for an initial sync).
    var token: String
    /// The members created or changed since `token`.
    var found: [DAVMultistatus.Member]
    /// The hrefs of the members deleted since `token`.
    var gone: [String]
    /// The sync token the answer handed out.
    var next: String
    /// Whether the server left changes out (`507`): another round from `next` follows.
    var truncated: Bool
}

/// The drains a DAV source has under way, as a pure state machine: which page a token
/// names, what follows it, and the deletions the updated drain collects for the deleted
/// drain. No I/O: the source runs the reports this state asks for and hands their rounds in.
///
/// An updated drain begins with the round of the delta token and hands out its members in
/// pages; when a round was truncated, its last page points at a round from the round's new
/// token. Every round adds its deletions to the drain's and takes back those of members it
/// reports as existing (a member deleted, then created again, is not deleted). Once the last
/// round is handed out, the drain waits for the deleted drain of the same delta token,
/// which hands its deletions out in pages and ends with the last round's token.
///
/// A page token whose drain is no longer here (see ``limit``) or whose round has moved on
/// asks for its round again: the source runs the report again and hands that round out
/// from its start. Handing out a member twice is harmless; the rounds of a drain only ever
/// move its token forward.
struct DAVDrains: Sendable {
    /// A drain under way.
    struct Drain: Sendable {
        /// The drain's identity, in its page tokens.
        var id: String
        /// The delta token the updated drain began from; `nil` when the drain was rebuilt
        /// from a page token, so no deleted drain can match it.
        var deltaToken: String?
        /// The round whose members the updated drain hands out; `nil` once the last page was
        /// handed out.
        var round: DAVSyncRound?
        /// The deletions so far, each with its order of arrival.
        var deletions: [String: Int] = [:]
        /// The next order of arrival.
        var sequence = 0
        /// The sync token the drain ends with: the last round's.
        var next: String
        /// Whether the updated drain has handed out its last page.
        var updatedDone = false
        /// The deletions the deleted drain hands out, once it began.
        var deleting: [String]?

        mutating func add(_ round: DAVSyncRound) {
            for member in round.found { deletions.removeValue(forKey: member.href) }
            for href in round.gone { addDeletion(href) }
            self.round = round
            next = round.next
            updatedDone = false
            deleting = nil
        }

        mutating func addDeletion(_ href: String) {
            guard deletions[href] == nil else { return }
            deletions[href] = sequence
            sequence += 1
        }

        var orderedDeletions: [String] {
            deletions.sorted { $0.value < $1.value }.map(\.key)
        }
    }

    /// A page of the updated drain, before the members without data are fetched.
    struct UpdatedPage: Sendable, Equatable {
        /// The drain it belongs to.
        var drain: String
        /// The page's members.
        var members: [DAVMultistatus.Member]
        /// What follows the page.
        var next: DeltaPage<DeltaRecord>.Next
    }

    /// The most drains kept; beginning another drops the one least recently begun. A source
    /// serves one sync at a time, so a few leave room for abandoned ones.
    let limit: Int
    /// The members or deletions per page.
    let pageSize: Int
    /// The drains, least recently begun first.
    private(set) var drains: [Drain] = []

    /// Creates an empty state.
    init(pageSize: Int, limit: Int = 4) {
        self.pageSize = max(1, pageSize)
        self.limit = max(1, limit)
    }

    /// An updated drain begins from `deltaToken` with its first round; answers its first page.
    mutating func beginUpdated(id: String, deltaToken: String, round: DAVSyncRound) -> UpdatedPage {
        var drain = Drain(id: id, deltaToken: deltaToken, next: round.next)
        drain.add(round)
        insert(drain)
        return updatedPage(at: drains.count - 1, offset: 0)
    }

    /// The page an updated page token names, when its round is here; `nil` when the source
    /// must run the round's report again (and hand it in with ``install(id:round:)``).
    mutating func updatedPage(drain id: String, round token: String, offset: Int) -> UpdatedPage? {
        guard let index = drains.firstIndex(where: { $0.id == id }), let round = drains[index].round, round.token == token,
            offset <= round.found.count
        else { return nil }
        return updatedPage(at: index, offset: offset)
    }

    /// Hands in a round the source ran for an updated page token of drain `id`; answers the
    /// round's first page. A drain no longer here is rebuilt, with no delta token.
    mutating func install(id: String, round: DAVSyncRound) -> UpdatedPage {
        if let index = drains.firstIndex(where: { $0.id == id }) {
            drains[index].add(round)
            return updatedPage(at: index, offset: 0)
        }
        var drain = Drain(id: id, deltaToken: nil, next: round.next)
        drain.add(round)
        insert(drain)
        return updatedPage(at: drains.count - 1, offset: 0)
    }

    /// Records what handing out a page of drain `id` found: the members that vanished
    /// before their data could be fetched are deletions; after the `last` page, the drain
    /// waits for its deleted drain.
    mutating func servedUpdated(drain id: String, vanished: [String], last: Bool) {
        guard let index = drains.firstIndex(where: { $0.id == id }) else { return }
        for href in vanished { drains[index].addDeletion(href) }
        if last {
            drains[index].updatedDone = true
            // The members are handed out: keep only what the deleted drain needs. Asking
            // for the last page again runs its round again.
            drains[index].round = nil
        }
    }

    /// The first page of the deleted drain from `deltaToken`, when the updated drain from the
    /// same token has handed out its last page; `nil` when there is no such drain (the
    /// source then finds the deletions itself and hands them in with
    /// ``installDeletions(id:deltaToken:gone:next:)``).
    mutating func beginDeleted(deltaToken: String) -> DeltaPage<String>? {
        guard let index = drains.lastIndex(where: { $0.deltaToken == deltaToken && $0.updatedDone }) else { return nil }
        drains[index].deleting = drains[index].orderedDeletions
        return deletedPage(at: index, delta: deltaToken, offset: 0)
    }

    /// The page a deleted page token names, when its drain is here; `nil` when the source
    /// must find the deletions again.
    mutating func deletedPage(drain id: String, delta: String, offset: Int) -> DeltaPage<String>? {
        guard let index = drains.firstIndex(where: { $0.id == id }), let deleting = drains[index].deleting,
            offset <= deleting.count
        else { return nil }
        return deletedPage(at: index, delta: delta, offset: offset)
    }

    /// Hands in the deletions since `deltaToken` that the source found itself, as drain `id`
    /// (a drain no longer here keeps its id); answers their first page.
    mutating func installDeletions(id: String, deltaToken: String, gone: [String], next: String) -> DeltaPage<String> {
        drains.removeAll { $0.id == id }
        var drain = Drain(id: id, deltaToken: deltaToken, next: next)
        for href in gone { drain.addDeletion(href) }
        drain.updatedDone = true
        drain.deleting = drain.orderedDeletions
        insert(drain)
        return deletedPage(at: drains.count - 1, delta: deltaToken, offset: 0)
    }

    private mutating func insert(_ drain: Drain) {
        drains.removeAll { $0.id == drain.id }
        drains.append(drain)
        if drains.count > limit { drains.removeFirst(drains.count - limit) }
    }

    private func updatedPage(at index: Int, offset: Int) -> UpdatedPage {
        let drain = drains[index]
        guard let round = drain.round else { preconditionFailure("an updated drain always has a round") }
        let end = min(offset + pageSize, round.found.count)
        let next: DeltaPage<DeltaRecord>.Next
        if end < round.found.count {
            next = .page(DAVPageToken.updated(drain: drain.id, offset: end, round: round.token).text)
        } else if round.truncated {
            next = .page(DAVPageToken.updated(drain: drain.id, offset: 0, round: round.next).text)
        } else {
            next = .done(nextDeltaToken: round.next)
        }
        return UpdatedPage(drain: drain.id, members: Array(round.found[offset..<end]), next: next)
    }

    /// The page from `offset`; after the last one, the drain is done and dropped.
    private mutating func deletedPage(at index: Int, delta: String, offset: Int) -> DeltaPage<String> {
        let drain = drains[index]
        let deleting = drain.deleting ?? []
        let end = min(offset + pageSize, deleting.count)
        let items = Array(deleting[offset..<end])
        if end < deleting.count {
            return DeltaPage(items: items, next: .page(DAVPageToken.deleted(drain: drain.id, offset: end, delta: delta).text))
        }
        drains.remove(at: index)
        return DeltaPage(items: items, next: .done(nextDeltaToken: drain.next))
    }
}
