import AsyncHTTPClient
import FerryClient
import FerryCore
import FerryHTTP
import Foundation
import GRDB
import NIOCore
import NIOHTTP1

extension BenchRunner {
    /// `caldav`: a full CalDAV sync of E events (default 10,000) from a real Radicale into a
    /// new SQLite database (`DeltaSync`, `CalDAVSource`, `LocalDeltaSink`), in events per
    /// second. Ceiling: Radicale answering the same `sync-collection` REPORT (the body read
    /// whole, not parsed), measured in the same rounds. The events are written straight into
    /// Radicale's storage folder, and one REPORT warms its cache before the rounds (its cold
    /// answer is reported as `cold_report_s`).
    func runCalDAV() async throws {
        guard let radicale = plan.radicale else {
            throw BenchError("caldav: no radicale executable: pass --radicale PATH (scripts/test installs one in .build/radicale-venv)")
        }
        let count = plan.caldavEvents
        try await RadicaleServer.with(executable: radicale) { server in
            let collection = try await server.makeCalendar("bench")
            progress.show("caldav: writing \(count) events into Radicale's storage")
            try Self.writeEvents(count, into: server.collectionFolder("bench"))
            let report = """
                <?xml version="1.0" encoding="utf-8"?>
                <D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token/>\
                <D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>
                """
            func answerTime() async throws -> Duration {
                try await ContinuousClock().measure {
                    let answer = try await server.request(
                        "REPORT",
                        collection,
                        body: report,
                        headers: [("Depth", "0")],
                        timeout: .seconds(600)
                    )
                    guard answer.status == 207 else { throw BenchError("caldav: Radicale answered \(answer.status)") }
                }
            }
            progress.show("caldav: Radicale's first (cold) answer to the REPORT")
            let cold = try await answerTime()
            var rates: [Double] = []
            var ceilingRates: [Double] = []
            var bytes = 0
            for round in 1...plan.rounds {
                progress.show("caldav: ceiling, Radicale answering the REPORT (round \(round))")
                ceilingRates.append(Double(count) / (try await answerTime()).seconds)
                progress.show("caldav: full sync of \(count) events into SQLite, round \(round)/\(plan.rounds)")
                let path = root.appendingPathComponent("caldav-\(round).sqlite").path
                let store = try LocalStore.open(databaseAt: path)
                let sink = try store.deltaSink()
                let source = CalDAVSource(collectionURL: collection, username: server.username, password: server.password)
                let result = try await DeltaSync(source: source, sink: sink, clock: ContinuousClock()).run()
                guard result.updated == count, result.fullResync else {
                    throw BenchError("caldav: the sync wrote \(result.updated) of \(count) events")
                }
                let stored = try await store.writer.read { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM delta_records") ?? 0
                }
                guard stored == count else { throw BenchError("caldav: \(stored) of \(count) events stored") }
                bytes = try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT sum(length(data)) FROM delta_records") ?? 0 }
                rates.append(Double(count) / result.duration.seconds)
            }
            let ceiling = BenchCeiling(
                name: "radicale_report",
                label: "Radicale answering the same sync-collection REPORT (body read, not parsed)",
                stats: BenchStats(ceilingRates),
                unit: "events/s"
            )
            record(ceiling)
            let stats = BenchStats(rates)
            let ratio = stats.median / ceiling.stats.median
            record(
                BenchResult(
                    workload: "caldav",
                    store: "sqlite",
                    clients: 1,
                    stats: stats,
                    unit: "events/s",
                    ceiling: ceiling,
                    extra: [("events", Double(count)), ("data_mb", Double(bytes) / 1_000_000), ("cold_report_s", cold.seconds)],
                    target: ("≥ 0.5 of the ceiling", ratio >= 0.5)
                )
            )
        }
    }

    /// Writes `count` events as `.ics` files into a Radicale calendar's folder: about 600
    /// bytes each, with non-ASCII text and a folded line.
    static func writeEvents(_ count: Int, into folder: URL) throws {
        for n in 0..<count {
            let text =
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ferry bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-\(n)\r\n"
                + "DTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
                + "SUMMARY:Réunion \(n) — café ☕ à Zürich\r\nLOCATION:Salle \(n % 40)\r\n"
                + "DESCRIPTION:A longer description of meeting number \(n)\\, with enough words to be f\r\n"
                + " olded over two lines as RFC 5545 wants for lines longer than 75 octets.\r\n"
                + "END:VEVENT\r\nEND:VCALENDAR\r\n"
            try Data(text.utf8).write(to: folder.appendingPathComponent("bench-\(n).ics"))
        }
    }
}
