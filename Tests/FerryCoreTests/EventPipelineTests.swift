import FerryCore
import Synchronization
import Testing

@Suite struct EventPipelineTests {
    static let types = ["note", "note", "note", "note", "task", "task", "note"]

    private func pipeline(
        _ stream: ScriptedStream,
        batchSize: Int = 3,
        mode: EventPipelineConfiguration.AcknowledgementMode = .sequential,
        invalid: EventPipelineConfiguration.InvalidEventPolicy = .fail,
        maxResets: Int = 3,
        maxPendingAcks: Int = 1000
    ) -> EventPipeline<ScriptedStream> {
        EventPipeline(
            stream: stream,
            types: ["note", "task"],
            configuration: EventPipelineConfiguration(
                batchSize: batchSize,
                acknowledgements: mode,
                maxPendingAcks: maxPendingAcks,
                invalidEvents: invalid,
                maxResets: maxResets
            )
        )
    }

    private func pipelineError(_ body: () async throws -> some Any) async -> EventPipelineError? {
        do {
            _ = try await body()
            return nil
        } catch let error as EventPipelineError {
            return error
        } catch {
            return nil
        }
    }

    @Test func sequentialModeChunksContiguousRunsWithinBatchesAndAcknowledgesEachBeforeTheNext() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(9)])])
        let result = try await pipeline(stream).run(processor: RecordingProcessor(log: log))
        #expect(
            log.entries == [
                "open",
                "process note k1,k2,k3", "flush", "ack note|1,note|2,note|3", "acked",
                "process note k4", "flush", "ack note|4", "acked",
                "process task k5,k6", "flush", "ack task|5,task|6", "acked",
                "process note k7", "flush", "ack note|7", "acked",
                "ack SyncComplete|9", "acked",
            ]
        )
        #expect(result.totals == ["note": 5, "task": 2])
        #expect(result.total == 7)
        #expect(result.completedThrough == 9)
        #expect(result.resets == 0)
        #expect(result.skippedCount == 0)
    }

    @Test func pipelinedModeSendsEveryAckInOrderAfterItsChunkWasProcessedAndFlushed() async throws {
        let log = CallLog()
        let types = (0..<50).map { $0 % 7 < 4 ? "note" : "task" }
        let stream = ScriptedStream(log: log, [Script(Line.events(types) + [Line.complete(50)])])
        let result = try await pipeline(stream, batchSize: 4, mode: .pipelined).run(processor: RecordingProcessor(log: log))

        let expected = types.enumerated().map { "\($0.element)|\($0.offset + 1)" } + ["SyncComplete|50"]
        #expect(log.ackCalls.flatMap { $0 } == expected)
        // Each ack call is sent after the process call of every event it covers, and after a
        // flush that follows that process call.
        let entries = log.entries
        for (index, entry) in entries.enumerated() where entry.hasPrefix("ack ") {
            let acks = entry.dropFirst(4).split(separator: ",")
            guard let last = acks.last(where: { !$0.hasPrefix("SyncComplete") }), let seq = last.split(separator: "|").last else {
                continue
            }
            let processIndex = try #require(
                entries.firstIndex { $0.hasPrefix("process ") && $0.split(separator: " ")[2].split(separator: ",").contains("k\(seq)") }
            )
            #expect(processIndex < index)
            #expect(entries[processIndex..<index].contains("flush"))
        }
        #expect(result.totals == ["note": types.filter { $0 == "note" }.count, "task": types.filter { $0 == "task" }.count])
        #expect(result.completedThrough == 50)
    }

    @Test func pipelinedModeProcessesWhileOneAckIsInFlightAndSendsTheAccumulatedAcksTogether() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])], holdAcks: true)
        let pipeline = pipeline(stream, mode: .pipelined)
        let run = Task { try await pipeline.run(processor: RecordingProcessor(log: log)) }

        // The first chunk's ack is held; the other chunks are processed meanwhile.
        await log.waitUntil { $0.contains("process note k7") }
        #expect(log.ackCalls == [["note|1", "note|2", "note|3"]])
        // The ack call is logged by the request's own task, so only its place after the flush is fixed.
        let entries = log.entries
        #expect(
            entries.filter { !$0.hasPrefix("ack ") && $0 != "held" } == [
                "open", "process note k1,k2,k3", "flush", "process note k4", "process task k5,k6", "process note k7",
            ]
        )
        let flush = try #require(entries.firstIndex(of: "flush"))
        let ack = try #require(entries.firstIndex(of: "ack note|1,note|2,note|3"))
        #expect(flush < ack)

        // Once it returns, one request carries the rest, in order, after one flush.
        stream.release()
        await log.waitUntil { $0.filter { $0 == "held" }.count == 2 }
        #expect(log.ackCalls.count == 2)
        #expect(log.ackCalls.last == ["note|4", "task|5", "task|6", "note|7", "SyncComplete|7"])
        #expect(Array(log.entries.suffix(3)) == ["flush", "ack note|4,task|5,task|6,note|7,SyncComplete|7", "held"])
        stream.release()
        let result = try await run.value
        #expect(result.totals == ["note": 5, "task": 2])
        #expect(log.entries.filter { $0 == "flush" }.count == 2)
    }

    @Test func pipelinedModeWaitsForTheRequestInFlightWhenTooManyAcksArePending() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])], holdAcks: true)
        let pipeline = pipeline(stream, batchSize: 1, mode: .pipelined, maxPendingAcks: 2)
        let run = Task { try await pipeline.run(processor: RecordingProcessor(log: log)) }

        await log.waitUntil { $0.contains("process note k3") }
        // k2 and k3 are pending (2 acks): the pipeline waits instead of processing k4.
        await log.waitUntil { $0.contains("held") }
        #expect(!log.entries.contains("process note k4"))
        stream.stopHolding()
        let result = try await run.value
        #expect(result.total == 7)
        #expect(log.ackCalls.flatMap { $0 } == Self.types.enumerated().map { "\($0.element)|\($0.offset + 1)" } + ["SyncComplete|7"])
        #expect(log.ackCalls.allSatisfy { $0.count <= 3 })
    }

    @Test(arguments: [EventPipelineConfiguration.AcknowledgementMode.sequential, .pipelined])
    func aProcessorErrorHaltsAfterAcknowledgingTheChunksBeforeIt(mode: EventPipelineConfiguration.AcknowledgementMode) async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])])
        let error = await pipelineError {
            try await pipeline(stream, mode: mode).run(processor: RecordingProcessor(log: log, failOnType: "task"))
        }
        #expect(error?.kind == .processingFailed)
        #expect(error?.type == "task")
        #expect((error?.underlying as? ScriptError)?.what == "cannot process task")
        #expect(error?.totals == ["note": 4])
        #expect(log.ackCalls.flatMap { $0 } == ["note|1", "note|2", "note|3", "note|4"])
        #expect(log.entries.last(where: { $0.hasPrefix("process") || $0.hasPrefix("fail") }) == "fail task")
    }

    @Test func anAckErrorHaltsSequentialModeWithNothingAfterItProcessedOrAcknowledged() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])], failingAck: 2)
        let error = await pipelineError { try await pipeline(stream).run(processor: RecordingProcessor(log: log)) }
        #expect(error?.kind == .acknowledgementFailed)
        #expect(error?.totals == ["note": 3])
        #expect(log.ackCalls == [["note|1", "note|2", "note|3"], ["note|4"]])
        #expect(!log.entries.contains { $0.hasPrefix("process task") })
    }

    @Test func anAckErrorHaltsPipelinedModeWithNoLaterAckSent() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])], failingAck: 1, holdAcks: true)
        let pipeline = pipeline(stream, mode: .pipelined)
        let run = Task { try await pipeline.run(processor: RecordingProcessor(log: log)) }
        await log.waitUntil { $0.contains("process note k7") }
        stream.release()
        let error = await pipelineError { try await run.value }
        #expect(error?.kind == .acknowledgementFailed)
        #expect(error?.totals == [:])
        #expect(log.ackCalls == [["note|1", "note|2", "note|3"]])
    }

    @Test(arguments: [EventPipelineConfiguration.AcknowledgementMode.sequential, .pipelined])
    func anInvalidEventEndsTheRunNamingItAfterAcknowledgingEverythingBefore(
        mode: EventPipelineConfiguration.AcknowledgementMode
    ) async throws {
        let log = CallLog()
        var lines = Line.events(Self.types)
        lines[4] = #"{"type":"task","data":[1,2],"ack":"task|5"}"#
        let stream = ScriptedStream(log: log, [Script(lines + [Line.complete(7)])])
        let error = await pipelineError { try await pipeline(stream, mode: mode).run(processor: RecordingProcessor(log: log)) }
        #expect(error?.kind == .invalidEvent)
        #expect(error?.position == 5)
        #expect(error?.reason == "data must be an object")
        #expect(error?.excerpt == lines[4])
        #expect(error?.message.contains("line 5") == true)
        #expect(error?.totals == ["note": 4])
        #expect(log.ackCalls.flatMap { $0 } == ["note|1", "note|2", "note|3", "note|4"])
        #expect(!log.entries.contains { $0.contains("k6") || $0.contains("k7") })
    }

    @Test func theSkipPolicyCountsAndReportsInvalidLines() async throws {
        let log = CallLog()
        var lines = Line.events(Self.types)
        lines[4] = "not json"
        lines[5] = #"{"type":"task","data":{},"ack":"note|6"}"#
        let stream = ScriptedStream(log: log, [Script(lines + [Line.complete(7)])])
        let result = try await pipeline(stream, invalid: .skip).run(processor: RecordingProcessor(log: log))
        #expect(result.totals == ["note": 5])
        #expect(result.skippedCount == 2)
        #expect(result.skipped.map(\.position) == [5, 6])
        #expect(result.skipped.first?.excerpt == "not json")
        #expect(result.skipped.last?.reason.contains("not the event's type task") == true)
        #expect(result.completedThrough == 7)
        #expect(log.ackCalls.flatMap { $0 } == ["note|1", "note|2", "note|3", "note|4", "note|7", "SyncComplete|7"])
    }

    @Test(arguments: [EventPipelineConfiguration.AcknowledgementMode.sequential, .pipelined])
    func aResetCallsTheProcessorAcknowledgesItAloneAndStartsOver(mode: EventPipelineConfiguration.AcknowledgementMode) async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script([Line.reset]), Script([Line.event("note", 1), Line.complete(1)])])
        let result = try await pipeline(stream, mode: mode).run(processor: RecordingProcessor(log: log))
        #expect(
            log.entries == [
                "open", "reset", "flush", "ack SyncReset|0", "acked",
                "open", "process note k1", "flush", "ack note|1", "acked", "ack SyncComplete|1", "acked",
            ]
        )
        #expect(result.resets == 1)
        #expect(result.totals == ["note": 1])
        #expect(stream.opens == 2)
    }

    @Test func aResetInTheMiddleOfAStreamDropsWhatWasNotAcknowledged() async throws {
        let log = CallLog()
        let stream = ScriptedStream(
            log: log,
            [Script([Line.event("note", 1), Line.reset]), Script([Line.event("note", 1), Line.complete(1)])]
        )
        let result = try await pipeline(stream).run(processor: RecordingProcessor(log: log))
        #expect(log.ackCalls == [["SyncReset|0"], ["note|1"], ["SyncComplete|1"]])
        #expect(log.entries.prefix(4) == ["open", "reset", "flush", "ack SyncReset|0"])
        #expect(result.resets == 1)
    }

    @Test func tooManyResetsEndTheRun() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script([Line.reset])])
        let error = await pipelineError { try await pipeline(stream, maxResets: 2).run(processor: RecordingProcessor(log: log)) }
        #expect(error?.kind == .tooManyResets)
        #expect(error?.result.resets == 2)
        #expect(stream.opens == 3)
        #expect(log.entries.filter { $0 == "reset" }.count == 2)
        #expect(log.ackCalls == [["SyncReset|0"], ["SyncReset|0"]])
    }

    @Test(arguments: [EventPipelineConfiguration.AcknowledgementMode.sequential, .pipelined])
    func aStreamEndingEarlyAcknowledgesWhatArrivedThenFails(mode: EventPipelineConfiguration.AcknowledgementMode) async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(["note", "note", "task", "task"]))])
        let error = await pipelineError { try await pipeline(stream, mode: mode).run(processor: RecordingProcessor(log: log)) }
        #expect(error?.kind == .streamEndedEarly)
        #expect(error?.totals == ["note": 2, "task": 2])
        #expect(log.ackCalls.flatMap { $0 } == ["note|1", "note|2", "task|3", "task|4"])
    }

    @Test func aFailingStreamAcknowledgesWhatArrivedThenFails() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(["note"]), failure: ScriptError(what: "connection reset"))])
        let error = await pipelineError { try await pipeline(stream).run(processor: RecordingProcessor(log: log)) }
        #expect(error?.kind == .streamFailed)
        #expect((error?.underlying as? ScriptError)?.what == "connection reset")
        #expect(error?.totals == ["note": 1])
        #expect(log.ackCalls == [["note|1"]])
    }

    @Test func cancellingTheRunAcknowledgesNothingMore() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])], holdAcks: true)
        let pipeline = pipeline(stream, mode: .sequential)
        let run = Task { try await pipeline.run(processor: RecordingProcessor(log: log)) }
        await log.waitUntil { $0.contains("held") }
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
        #expect(log.ackCalls == [["note|1", "note|2", "note|3"]])
        #expect(!log.entries.contains("process note k4"))
        #expect(!log.entries.contains("acked"))
    }

    @Test func progressCountsProcessedAndAcknowledgedEvents() async throws {
        let log = CallLog()
        let stream = ScriptedStream(log: log, [Script(Line.events(Self.types) + [Line.complete(7)])])
        let reports = ProgressReports()
        _ = try await pipeline(stream).run(processor: RecordingProcessor(log: log)) { reports.append($0) }
        let seen = reports.all
        #expect(seen.first == EventPipelineProgress(processed: 3, acknowledged: 0))
        #expect(seen.last == EventPipelineProgress(processed: 7, acknowledged: 7))
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.processed <= $1.processed && $0.acknowledged <= $1.acknowledged })
    }
}

final class ProgressReports: Sendable {
    private let reports = Mutex<[EventPipelineProgress]>([])
    func append(_ progress: EventPipelineProgress) { reports.withLock { $0.append(progress) } }
    var all: [EventPipelineProgress] { reports.withLock { $0 } }
}
