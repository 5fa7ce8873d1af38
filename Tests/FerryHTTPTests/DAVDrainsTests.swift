import FerryCore
import Testing

@testable import FerryHTTP

/// The DAV sources' paging state on its own: which page a token names, what follows, and
/// which deletions reach the deleted drain.
@Suite struct DAVDrainsTests {
    private func round(_ token: String, found: [String], gone: [String] = [], next: String, truncated: Bool = false) -> DAVSyncRound {
        DAVSyncRound(
            token: token,
            found: found.map { DAVMultistatus.Member(href: $0, etag: nil, data: "x") },
            gone: gone,
            next: next,
            truncated: truncated
        )
    }

    @Test func pagesFollowEachOtherThenTheDeletionsWaitForTheirDrain() {
        var drains = DAVDrains(pageSize: 2)
        let first = drains.beginUpdated(id: "A", deltaToken: "t0", round: round("t0", found: ["a", "b", "c"], gone: ["x"], next: "t1"))
        #expect(first.members.map(\.href) == ["a", "b"])
        #expect(first.next == .page(DAVPageToken.updated(drain: "A", offset: 2, round: "t0").text))
        #expect(drains.beginDeleted(deltaToken: "t0") == nil, "the updated drain is not done yet")

        let second = drains.updatedPage(drain: "A", round: "t0", offset: 2)
        #expect(second?.members.map(\.href) == ["c"])
        #expect(second?.next == .done(nextDeltaToken: "t1"))
        drains.servedUpdated(drain: "A", vanished: ["c"], last: true)

        let deleted = drains.beginDeleted(deltaToken: "t0")
        #expect(deleted == DeltaPage(items: ["x", "c"], next: .done(nextDeltaToken: "t1")))
        #expect(drains.drains.isEmpty, "a finished drain is dropped")
    }

    @Test func aTruncatedRoundPointsAtTheNextRoundWhichTakesBackDeletions() {
        var drains = DAVDrains(pageSize: 10)
        let first = drains.beginUpdated(
            id: "A",
            deltaToken: "t0",
            round: round("t0", found: ["a"], gone: ["x", "y"], next: "t1", truncated: true)
        )
        #expect(first.next == .page(DAVPageToken.updated(drain: "A", offset: 0, round: "t1").text))
        #expect(drains.updatedPage(drain: "A", round: "t1", offset: 0) == nil, "the next round has not run yet")

        let second = drains.install(id: "A", round: round("t1", found: ["x"], gone: ["a"], next: "t2"))
        #expect(second.members.map(\.href) == ["x"])
        #expect(second.next == .done(nextDeltaToken: "t2"))
        drains.servedUpdated(drain: "A", vanished: [], last: true)
        #expect(drains.beginDeleted(deltaToken: "t0") == DeltaPage(items: ["y", "a"], next: .done(nextDeltaToken: "t2")))
    }

    @Test func aDrainNoLongerHereIsRebuiltWithoutItsDeltaToken() {
        var drains = DAVDrains(pageSize: 1, limit: 2)
        _ = drains.beginUpdated(id: "A", deltaToken: "t0", round: round("t0", found: ["a", "b"], next: "t1"))
        _ = drains.beginUpdated(id: "B", deltaToken: "t0", round: round("t0", found: ["a"], next: "t1"))
        _ = drains.beginUpdated(id: "C", deltaToken: "t0", round: round("t0", found: ["a"], next: "t1"))
        #expect(drains.drains.map(\.id) == ["B", "C"], "the least recently begun is dropped")
        #expect(drains.updatedPage(drain: "A", round: "t0", offset: 1) == nil)

        let rebuilt = drains.install(id: "A", round: round("t0", found: ["a", "b"], next: "t1"))
        #expect(rebuilt.members.map(\.href) == ["a"], "a rebuilt round is handed out from its start")
        #expect(drains.drains.first { $0.id == "A" }?.deltaToken == nil)
        drains.servedUpdated(drain: "A", vanished: [], last: true)
        #expect(drains.beginDeleted(deltaToken: "t0") == nil, "B and C never finished; A has no delta token")
    }

    @Test func deletionsFoundApartArePagedAndEndWithTheirToken() {
        var drains = DAVDrains(pageSize: 2)
        let first = drains.installDeletions(id: "D", deltaToken: "t0", gone: ["x", "y", "z"], next: "t3")
        #expect(first == DeltaPage(items: ["x", "y"], next: .page(DAVPageToken.deleted(drain: "D", offset: 2, delta: "t0").text)))
        #expect(drains.deletedPage(drain: "D", delta: "t0", offset: 2) == DeltaPage(items: ["z"], next: .done(nextDeltaToken: "t3")))
        #expect(drains.deletedPage(drain: "D", delta: "t0", offset: 2) == nil, "the drain is done and gone")
    }

    @Test func theLastPageAskedForAgainRunsItsRoundAgain() {
        var drains = DAVDrains(pageSize: 5)
        _ = drains.beginUpdated(id: "A", deltaToken: "t0", round: round("t0", found: ["a", "b"], next: "t1"))
        drains.servedUpdated(drain: "A", vanished: [], last: true)
        #expect(drains.updatedPage(drain: "A", round: "t0", offset: 0) == nil, "the handed-out members are not kept")
    }
}
