import FerryCore
import FerryTestKit
import Testing

@testable import FerryClient

/// What reason code, message and wait a failed cycle reports.
@Suite struct CycleFailureTests {
    private typealias Failure = SyncManager<TestClock>.CycleFailure

    @Test func aTransportErrorReportsItsKindAndWait() {
        let failure = Failure(SyncTransportError(.authRequired, "sign in again", retryAfter: .seconds(5)))
        #expect(failure.reason == .authRequired)
        #expect(failure.reason.rawValue == "auth_required")
        #expect(failure.retryAfter == .seconds(5))
        #expect(failure.message.contains("sign in again"))
    }

    @Test func anUnavailableServerIsTransientAndOtherErrorsAreInternal() {
        #expect(Failure(FerryError(.unavailable, "storage down")).reason == .transient)
        #expect(Failure(FerryError(.internal, "bug")).reason == .internalError)
        let local = Failure(LocalStoreError(.corruptData, "bad row"))
        #expect(local.reason == .internalError)
        #expect(local.message == "corrupt_data: bad row")
        #expect(local.retryAfter == nil)
    }
}
