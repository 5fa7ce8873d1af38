import FerryClient
import FerryCore
import Foundation
import Testing

@Suite struct NDJSONFileProcessorTests {
    private func event(_ type: String, _ seq: Int64) throws -> StreamEvent {
        StreamEvent(type: type, acknowledgement: try StreamAck(type: type, seq: seq), dataBytes: Array(#"{"seq":\#(seq)}"#.utf8))
    }

    private func contents(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }

    @Test func linesAreOnDiskAfterFlushAppendedToWhatWasThereAndGoneAfterReset() async throws {
        let scratch = try Scratch()
        let path = scratch.path("events.ndjson")
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: path))
        let processor = try NDJSONFileProcessor(path: path)
        try await processor.process([try event("note", 1), try event("note", 2)], type: "note")
        // Buffered until flushed.
        #expect(try contents(path) == "earlier\n")
        try await processor.flush()
        #expect(
            try contents(path)
                == "earlier\n" + #"{"type":"note","data":{"seq":1},"ack":"note|1"}"# + "\n"
                + #"{"type":"note","data":{"seq":2},"ack":"note|2"}"# + "\n"
        )
        // Each written line is a valid event again.
        let lines = try contents(path).split(separator: "\n").dropFirst()
        #expect(try lines.map { try StreamEvent(line: Array($0.utf8)).ack } == ["note|1", "note|2"])

        try await processor.process([try event("task", 3)], type: "task")
        try await processor.reset()
        #expect(try contents(path).isEmpty)
        try await processor.process([try event("note", 1)], type: "note")
        try await processor.flush()
        #expect(try contents(path) == #"{"type":"note","data":{"seq":1},"ack":"note|1"}"# + "\n")
    }

    @Test func aTornLastLineIsCutWhenTheFileIsOpened() async throws {
        let scratch = try Scratch()
        let path = scratch.path("events.ndjson")
        let whole = #"{"type":"note","data":{"seq":1},"ack":"note|1"}"# + "\n"
        try Data((whole + #"{"type":"note","data":{"se"#).utf8).write(to: URL(fileURLWithPath: path))
        let processor = try NDJSONFileProcessor(path: path)
        #expect(try contents(path) == whole)
        try await processor.process([try event("note", 2)], type: "note")
        try await processor.flush()
        #expect(try contents(path) == whole + #"{"type":"note","data":{"seq":2},"ack":"note|2"}"# + "\n")
        // A file of one torn line is emptied; a whole file is left as it is.
        try Data("torn".utf8).write(to: URL(fileURLWithPath: path))
        _ = try NDJSONFileProcessor(path: path)
        #expect(try contents(path).isEmpty)
        try Data(whole.utf8).write(to: URL(fileURLWithPath: path))
        _ = try NDJSONFileProcessor(path: path)
        #expect(try contents(path) == whole)
    }

    @Test func aFileThatCannotBeOpenedIsAnError() throws {
        #expect(throws: FerryError.self) { try NDJSONFileProcessor(path: "/nonexistent-dir/x/events.ndjson") }
    }
}
