import FerryClient
import FerryCore
import FerryLog
import FerryTestKit
import GRDB
import NotesData
import Testing

/// A device of the notes app: its own in-memory database, synced through `server`.
struct Device {
    let notes: NotesDatabase
    let engine: SyncEngine

    init(_ server: InMemoryTransport) throws {
        notes = try NotesDatabase(try DatabaseQueue())
        engine = SyncEngine(store: notes.store, transport: server, space: "notes")
    }

    /// One sync cycle: push what waits, pull what the others wrote.
    func sync() async throws { _ = try await engine.sync() }
}

/// The app's data layer against FerryTestKit's in-memory server, which follows the same
/// rules as `ferry serve` (validation, conflicts, long-polls).
@Suite(.timeLimit(.minutes(1)))
struct NotesDataTests {
    let server = InMemoryTransport()

    @Test func aNoteWrittenOnOneDeviceReachesTheOther() async throws {
        let (phone, laptop) = (try Device(server), try Device(server))
        let note = try phone.notes.add(title: "Groceries", body: "milk")
        try await phone.sync()
        try await laptop.sync()
        #expect(try laptop.notes.notes() == [note])
    }

    @Test func editsOfDifferentFieldsBothSurvive() async throws {
        let (phone, laptop) = (try Device(server), try Device(server))
        var note = try phone.notes.add(title: "Groceries", body: "milk")
        try await phone.sync()
        try await laptop.sync()

        // Offline, each device edits its own field of the note.
        note.title = "Shopping"
        try phone.notes.save(note)
        var other = try #require(try laptop.notes.note(id: note.id))
        other.pinned = true
        try laptop.notes.save(other)

        for device in [phone, laptop, phone] { try await device.sync() }
        let expected = Note(id: note.id, title: "Shopping", body: "milk", pinned: true)
        #expect(try phone.notes.notes() == [expected])
        #expect(try laptop.notes.notes() == [expected])
        // The server reports concurrent writes to one record; no field was written by both,
        // so nothing needed merging.
        #expect(try laptop.notes.store.conflicts().map(\.resolution) == [.reported])
    }

    @Test func concurrentEditsOfTheTextKeepBothTexts() async throws {
        let (phone, laptop) = (try Device(server), try Device(server))
        var note = try phone.notes.add(title: "Groceries", body: "milk")
        try await phone.sync()
        try await laptop.sync()

        note.body = "milk, eggs"
        try phone.notes.save(note)
        var other = try #require(try laptop.notes.note(id: note.id))
        other.body = "milk, bread"
        try laptop.notes.save(other)

        // The laptop merges when it pulls the phone's edit, and pushes the merge next cycle.
        for device in [phone, laptop, laptop, phone] { try await device.sync() }
        let merged = "milk, eggs\n\nmilk, bread"  // the server's first, then the later one
        #expect(try phone.notes.note(id: note.id)?.body == merged)
        #expect(try laptop.notes.note(id: note.id)?.body == merged)
        // The conflict is recorded on the device whose edit the server ordered second.
        let conflict = try #require(try laptop.notes.store.conflicts().first)
        #expect(conflict.entityKey == note.id)
        #expect(conflict.resolution == .merged)
    }

    @Test func anEditWinsOverADeletion() async throws {
        let (phone, laptop) = (try Device(server), try Device(server))
        var note = try phone.notes.add(title: "Trip")
        try await phone.sync()
        try await laptop.sync()

        try laptop.notes.delete(id: note.id)
        note.body = "tickets booked"
        try phone.notes.save(note)

        for device in [laptop, phone, laptop] { try await device.sync() }
        #expect(try laptop.notes.note(id: note.id)?.body == "tickets booked")
        #expect(try phone.notes.note(id: note.id)?.body == "tickets booked")
    }

    @Test func aLiveDeviceReceivesAWriteWithNoTimePassing() async throws {
        let clock = TestClock()
        let server = InMemoryTransport(configuration: ServerConfiguration(clock: clock))
        let phone = try Device(server)
        let laptop = try NotesDatabase(try DatabaseQueue())
        let sync = NotesSync(laptop, transport: server, space: "notes", clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await sync.manager.run() }
            defer { tasks.cancelAll() }
            for await status in sync.manager.statusUpdates() where status.lastSyncAt != nil { break }
            await clock.waitForSleepers()  // the laptop holds a long-poll

            let note = try phone.notes.add(title: "From the phone")
            try await phone.sync()
            while try laptop.notes().isEmpty { await Task.yield() }
            #expect(try laptop.notes() == [note])
            #expect(clock.now.offset == .zero)
        }
    }

    @Test func theSummarySaysWhatMattersFirst() {
        let now: Int64 = 1_800_000_000_000
        #expect(NotesSync<TestClock>.summary(of: SyncStatus(), now: now) == "Not synced yet")
        #expect(NotesSync<TestClock>.summary(of: SyncStatus(lastSyncAt: now - 5_000), now: now) == "Up to date")
        #expect(NotesSync<TestClock>.summary(of: SyncStatus(lastSyncAt: now - 180_000), now: now) == "Synced 3 min ago")
        #expect(
            NotesSync<TestClock>.summary(of: SyncStatus(reasonCode: .transient, pending: 2, conflicts: 1), now: now)
                == "Offline, retrying · 2 changes waiting · 1 conflict to review"
        )
        #expect(NotesSync<TestClock>.summary(of: SyncStatus(reasonCode: .authRequired), now: now) == "Sign in again to sync")
    }

    @Test func theMergeKeepsBothTextsAndEitherPin() {
        let context = ConflictContext(
            entity: "notes",
            entityKey: "n1",
            local: ["id": .string("n1"), "title": .string("Mine"), "body": .string("b"), "pinned": .int(0)],
            remote: ["id": .string("n1"), "title": .string("Theirs"), "body": .string("a"), "pinned": .int(1)],
            remoteSeq: 7,
            fields: ["title", "body", "pinned"]
        )
        let merged = NotesDatabase.merge(context)
        #expect(merged?["title"] == .string("Mine"))
        #expect(merged?["body"] == .string("a\n\nb"))
        #expect(merged?["pinned"] == .int(1))
    }
}
