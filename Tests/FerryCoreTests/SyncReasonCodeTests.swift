import FerryCore
import Foundation
import Testing

@Suite struct SyncReasonCodeTests {
    @Test(arguments: [
        (SyncReasonCode.transient, "transient"), (.authRequired, "auth_required"), (.policyForbidden, "policy_forbidden"),
        (.permanent, "permanent"), (.leaseHeld, "lease_held"), (.upgrade, "upgrade"), (.internalError, "internal_error"),
    ])
    func everyCodeHasItsName(code: SyncReasonCode, name: String) {
        #expect(code.rawValue == name)
        #expect(code.description == name)
    }

    @Test func aTransportErrorKindIsTheCodeOfItsName() {
        #expect(SyncReasonCode(SyncTransportError.Kind.cursorAhead) == SyncReasonCode(rawValue: "cursor_ahead"))
        #expect(SyncReasonCode(SyncTransportError.Kind(rawValue: "new_kind")).rawValue == "new_kind")
    }

    @Test func theStatusCarriesTheCodeAsAStringAndKeepsUnknownOnes() throws {
        let status = SyncStatus(phase: .backoff, reasonCode: .leaseHeld)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any]
        #expect(json?["reason_code"] as? String == "lease_held")
        let later =
            #"{"phase":"backoff","reason_code":"quota_exceeded","consecutive_failures":0,"pending":0,"rejected":0,"dead_letters":0,"conflicts":0}"#
        let decoded = try JSONDecoder().decode(SyncStatus.self, from: Data(later.utf8))
        #expect(decoded.reasonCode == SyncReasonCode(rawValue: "quota_exceeded"))
    }
}
