import FerryCore
import Testing

@Suite struct RecordHeadTests {
    private func conflict(_ base: Int64?, by device: String, _ head: RecordHead?) -> Int64? {
        RecordHead.conflict(clientActionID: 1, entity: "note", entityKey: "k", baseSeq: base, by: device, head: head)?.currentSeq
    }

    @Test func onlyOtherDevicesWritesCount() {
        var head: RecordHead? = nil
        #expect(conflict(0, by: "A", head) == nil)  // never written
        head = RecordHead.after(head, write: 1, by: "A")
        #expect(conflict(0, by: "A", head) == nil)  // A's own write
        #expect(conflict(0, by: "B", head) == 1)  // B did not see A's write
        head = RecordHead.after(head, write: 2, by: "B")
        #expect(head == RecordHead(seq: 2, deviceID: "B", otherSeq: 1))
        #expect(conflict(1, by: "A", head) == 2)
        #expect(conflict(2, by: "A", head) == nil)
        #expect(conflict(0, by: "B", head) == 1)  // B's own write at 2 does not count, A's at 1 does
        head = RecordHead.after(head, write: 3, by: "B")
        #expect(head?.otherSeq == 1)
        #expect(conflict(nil, by: "C", head) == nil)  // no base: no check
    }
}
