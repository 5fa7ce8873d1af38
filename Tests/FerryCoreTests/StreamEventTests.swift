import FerryCore
import Testing

@Suite struct StreamEventTests {
    private func reason(_ line: String) -> String? {
        do {
            _ = try StreamEvent(line: Array(line.utf8))
            return nil
        } catch {
            return error.reason
        }
    }

    /// The stream of an empty log ends with `SyncComplete|0` (PROTOCOL.md always ends a
    /// stream with `SyncComplete|head`): it reads, but no ack request may carry it.
    @Test func theCompleteLineOfAnEmptyLogReadsButIsNoAck() throws {
        let event = try StreamEvent(line: Array(#"{"type":"SyncComplete","data":{"head_seq":0},"ack":"SyncComplete|0"}"#.utf8))
        #expect(event.isComplete)
        #expect(event.acknowledgement == .completeOfEmptyLog)
        #expect(event.headSeq() == 0)
        #expect(throws: FerryError.self) { try StreamAck(parsing: "SyncComplete|0") }
        #expect(reason(#"{"type":"note","data":{},"ack":"note|0"}"#) != nil)
    }

    @Test func aValidLineKeepsItsDataBytesAndDecodesOnDemand() throws {
        let line = Line.event("note", 43)
        let event = try StreamEvent(line: Array(line.utf8))
        #expect(event.type == "note")
        #expect(event.ack == "note|43")
        #expect(event.acknowledgement == (try StreamAck(type: "note", seq: 43)))
        #expect(String(decoding: event.dataBytes, as: UTF8.self).hasPrefix(#"{"seq":43,"#))
        let mutation = try event.mutation()
        #expect(mutation.seq == 43)
        #expect(mutation.entityKey == "k43")
        #expect(try event.data().objectValue?["payload"] == .object(["n": .int(43)]))

        let spaced = try StreamEvent(line: Array(#" { "ack" : "task|2", "extra": [1], "data" :  {"a": 1} , "type":"task" } "#.utf8))
        #expect(spaced.dataBytes == Array(#"{"a": 1}"#.utf8))
        #expect(try spaced.data() == .object(["a": .int(1)]))

        let complete = try StreamEvent(line: Array(Line.complete(44).utf8))
        #expect(complete.isComplete)
        #expect(complete.headSeq() == 44)
        #expect(try StreamEvent(line: Array(Line.reset.utf8)).isReset)
    }

    @Test func invalidLinesSayWhy() {
        #expect(reason("{oops")?.hasPrefix("the line is not valid JSON") == true)
        #expect(reason("oops") == "the line is not valid JSON: expected a value, found 'o' at byte 0")
        #expect(reason("[1]") == "the line must be an object")
        #expect(reason(#"{"type":"","data":{},"ack":"note|1"}"#) == "type must be a non-empty string")
        #expect(reason(#"{"type":3,"data":{},"ack":"note|1"}"#) == "type must be a string")
        #expect(reason(#"{"data":{},"ack":"note|1"}"#) == "type must be a non-empty string")
        #expect(reason(#"{"type":"note","ack":"note|1"}"#) == "data must be an object")
        #expect(reason(#"{"type":"note","data":"x","ack":"note|1"}"#) == "data must be an object")
        #expect(reason(#"{"type":"note","data":{}}"#) == "ack must be a string")
        #expect(reason(#"{"type":"note","data":{},"ack":"note|01"}"#)?.contains("leading zero") == true)
        #expect(reason(#"{"type":"note","data":{},"ack":"task|1"}"#)?.contains("not the event's type note") == true)
        #expect(reason(#"{"type":"SyncComplete","data":{},"ack":"SyncComplete|4"}"#)?.contains("head_seq") == true)
        #expect(reason(#"{"type":"note","data":{},"ack":"note|1"} x"#)?.hasPrefix("the line is not valid JSON") == true)
    }
}
