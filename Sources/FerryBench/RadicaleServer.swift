import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A Radicale CalDAV and CardDAV server (PyPI `radicale` 3.9, which `scripts/test` installs
/// and names in `FERRY_TEST_RADICALE`), run as a child process on a free port of 127.0.0.1
/// for the time of a test or of the bench's caldav workload: a fresh storage folder, one
/// user with a generated password (htpasswd, plain), each user owning their own collections
/// only.
package final class RadicaleServer: Sendable {
    /// The `radicale` executable from `FERRY_TEST_RADICALE`, or `nil` when it is not set.
    package static var executable: String? {
        ProcessInfo.processInfo.environment["FERRY_TEST_RADICALE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether tests can start Radicale; those that need it are skipped when not (except
    /// under CI, where `scripts/test` fails when it cannot install it).
    package static var isAvailable: Bool { executable != nil }

    /// The server's root URL, such as `http://127.0.0.1:5232`.
    package let baseURL: String
    /// The user's name.
    package let username: String
    /// The user's password.
    package let password: String

    private let process: Process
    private let output: ProcessOutput
    private let folder: URL

    private init(baseURL: String, username: String, password: String, process: Process, output: ProcessOutput, folder: URL) {
        self.baseURL = baseURL
        self.username = username
        self.password = password
        self.process = process
        self.output = output
        self.folder = folder
    }

    /// Starts a server, runs `body` with it, then stops it (SIGTERM, and waits for it to end)
    /// and removes its storage, whether `body` returns or throws.
    package static func with<T: Sendable>(
        executable: String? = RadicaleServer.executable,
        _ body: (RadicaleServer) async throws -> T
    ) async throws -> T {
        let server = try await start(executable: executable)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(server))
        } catch {
            result = .failure(error)
        }
        await server.stop()
        return try result.get()
    }

    /// Starts a server and waits until it answers; a port taken in the meantime by someone
    /// else is tried again with another.
    private static func start(executable: String?) async throws -> RadicaleServer {
        guard let executable else { throw ProcessError(message: "FERRY_TEST_RADICALE is not set: run the tests with scripts/test") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-radicale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let username = "u" + UUID().uuidString.prefix(8).lowercased()
        let password = UUID().uuidString
        let htpasswd = folder.appendingPathComponent("htpasswd")
        try Data("\(username):\(password)\n".utf8).write(to: htpasswd)
        var lastOutput = ""
        for _ in 0..<3 {
            let port = try freePort()
            let process = Process()
            // The test process blocks most signals on its threads and a child inherits the
            // mask, so Radicale would never see SIGTERM: python3 unblocks them, then becomes
            // Radicale.
            let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-c", unblock, executable,
                // No configuration file: only these flags and the defaults count.
                "--config",
                "--server-hosts", "127.0.0.1:\(port)",
                "--storage-filesystem-folder", folder.appendingPathComponent("collections").path,
                "--auth-type", "htpasswd",
                "--auth-htpasswd-filename", htpasswd.path,
                "--auth-htpasswd-encryption", "plain",
                // A wrong password is refused at once, not after the default second.
                "--auth-delay", "0",
                "--rights-type", "owner_only",
                "--logging-level", "warning",
            ]
            let pipe = Pipe()
            let output = ProcessOutput()
            process.standardOutput = pipe
            process.standardError = pipe
            output.collect(from: pipe)
            try process.run()
            let server = RadicaleServer(
                baseURL: "http://127.0.0.1:\(port)",
                username: username,
                password: password,
                process: process,
                output: output,
                folder: folder
            )
            if try await server.waitUntilAnswering() { return server }
            lastOutput = output.text
            guard lastOutput.contains("in use") else { break }
        }
        try? FileManager.default.removeItem(at: folder)
        throw ProcessError(message: "radicale did not start: \(lastOutput)")
    }

    /// Waits until the server answers any HTTP request: `true`, or `false` when the process
    /// ended first. Throws after 30 seconds.
    private func waitUntilAnswering() async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning {
            var probe = HTTPClientRequest(url: baseURL + "/")
            probe.method = .OPTIONS
            if let response = try? await Self.probeClient.execute(probe, timeout: .seconds(2)) {
                _ = try? await response.body.collect(upTo: 1 << 20)
                return true
            }
            guard ContinuousClock.now < deadline else {
                await stop()
                throw ProcessError(message: "radicale did not answer within 30 seconds: \(output.text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 seconds), waits for it to end, and
    /// removes its storage.
    private func stop() async {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning {
                if ContinuousClock.now > deadline { kill(process.processIdentifier, SIGKILL) }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// The client that asks whether the server answers yet: a refused connection fails at
    /// once instead of being retried until the connect timeout.
    private static let probeClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// A free TCP port of 127.0.0.1, as the operating system picks one.
    private static func freePort() throws -> Int {
        let script = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
        let result = try runProgram("/usr/bin/env", ["python3", "-c", script])
        guard result.status == 0, let port = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ProcessError(message: "python3 could not find a free port: \(result.output)")
        }
        return port
    }

    /// The folder of the user's collection `name` in the server's storage, where its members
    /// are files (the bench writes its events there rather than `PUT` them one by one).
    package func collectionFolder(_ name: String) -> URL {
        folder.appendingPathComponent("collections/collection-root/\(username)/\(name)", isDirectory: true)
    }

    /// What the server printed so far (warnings and errors).
    package var printed: String { output.text }

    // MARK: - Requests

    /// An answer of the server.
    package struct Answer: Sendable {
        /// The HTTP status.
        package var status: Int
        /// The headers.
        package var headers: HTTPHeaders
        /// The body.
        package var body: [UInt8]

        /// The body as UTF-8 text.
        package var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends a request to `url` (with the user's credentials unless `authorized` is false)
    /// and reads its answer whole, within `timeout`.
    package func request(
        _ method: String,
        _ url: String,
        body: String? = nil,
        contentType: String = "application/xml; charset=utf-8",
        headers: [(String, String)] = [],
        authorized: Bool = true,
        timeout: Duration = .seconds(30)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if authorized {
            let credentials = Data("\(username):\(password)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
        let bytes = try await response.body.collect(upTo: 256 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
    }

    /// Sends a request and throws unless it answers one of `expected`.
    @discardableResult
    private func expect(
        _ expected: Set<Int>,
        _ method: String,
        _ url: String,
        body: String? = nil,
        contentType: String = "application/xml; charset=utf-8"
    ) async throws -> Answer {
        let answer = try await request(method, url, body: body, contentType: contentType)
        guard expected.contains(answer.status) else {
            throw ProcessError(message: "radicale: \(method) \(url) answered \(answer.status): \(answer.text)")
        }
        return answer
    }

    /// The URL of the user's collection `name` (with its trailing slash).
    package func collectionURL(_ name: String) -> String {
        "\(baseURL)/\(username)/\(name)/"
    }

    /// Creates the calendar `name` with `MKCALENDAR`; answers its URL.
    @discardableResult
    package func makeCalendar(_ name: String) async throws -> String {
        let url = collectionURL(name)
        try await expect([201], "MKCALENDAR", url)
        return url
    }

    /// Creates the address book `name` with an extended `MKCOL` (RFC 5689); answers its URL.
    @discardableResult
    package func makeAddressBook(_ name: String) async throws -> String {
        let url = collectionURL(name)
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>\
            <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>\
            <D:displayname>\(name)</D:displayname></D:prop></D:set></D:mkcol>
            """
        try await expect([201], "MKCOL", url, body: body)
        return url
    }

    /// Stores `text` as the member `name` of the collection at `collection` with `PUT`
    /// (`text/calendar` for `.ics`, `text/vcard` otherwise); answers the member's URL.
    @discardableResult
    package func put(_ text: String, as name: String, in collection: String) async throws -> String {
        let url = collection + name
        let type = name.hasSuffix(".ics") ? "text/calendar; charset=utf-8" : "text/vcard; charset=utf-8"
        try await expect([201, 204], "PUT", url, body: text, contentType: type)
        return url
    }

    /// Stores many members at once: each `(name, text)` with ``put(_:as:in:)``, eight at a time.
    package func put(_ members: [(name: String, text: String)], in collection: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(8, members.count) {
                let member = members[next]
                next += 1
                group.addTask { try await self.put(member.text, as: member.name, in: collection) }
            }
            while try await group.next() != nil, next < members.count {
                let member = members[next]
                next += 1
                group.addTask { try await self.put(member.text, as: member.name, in: collection) }
            }
            try await group.waitForAll()
        }
    }

    /// Creates (or replaces) the calendar `name` with one `PUT` of a calendar holding every
    /// event of `events` (each a calendar object as ``DAVFixture/event(uid:summary:description:)``
    /// writes them): Radicale stores each event as the member `UID.ics`. Much faster than a
    /// `PUT` per event. Answers the calendar's URL.
    @discardableResult
    package func putCalendar(_ name: String, events: [String]) async throws -> String {
        let url = collectionURL(name)
        let components = events.map { text -> Substring in
            guard let start = text.range(of: "BEGIN:VEVENT"), let end = text.range(of: "END:VEVENT\r\n") else { return "" }
            return text[start.lowerBound..<end.upperBound]
        }
        let body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ferry//Tests//EN\r\n" + components.joined() + "END:VCALENDAR\r\n"
        try await expect([201, 204], "PUT", url, body: body, contentType: "text/calendar; charset=utf-8")
        return url
    }

    /// Creates (or replaces) the address book `name` with one `PUT` of every vCard of
    /// `cards`: Radicale stores each as the member `UID.vcf`. Answers the address book's URL.
    @discardableResult
    package func putAddressBook(_ name: String, cards: [String]) async throws -> String {
        let url = collectionURL(name)
        try await expect([201, 204], "PUT", url, body: cards.joined(), contentType: "text/vcard; charset=utf-8")
        return url
    }

    /// Deletes the member or collection at `url`.
    package func delete(_ url: String) async throws {
        try await expect([200, 204], "DELETE", url)
    }

    /// The body of a `GET` of `url`, as the server sends it.
    package func get(_ url: String) async throws -> [UInt8] {
        try await expect([200], "GET", url).body
    }

    /// Every member of the collection at `url` as a `GET` answers it: href (as the server
    /// writes it) to body. Lists them with `PROPFIND` (`Depth: 1`), then reads them eight at
    /// a time.
    package func members(of url: String) async throws -> [String: String] {
        let listing = try await request(
            "PROPFIND",
            url,
            body: #"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
            headers: [("Depth", "1")]
        )
        guard listing.status == 207 else {
            throw ProcessError(message: "radicale: PROPFIND \(url) answered \(listing.status): \(listing.text)")
        }
        // Radicale writes `<href>` in the default namespace; the collection's own is left out.
        let collectionPath = String(url.dropFirst(baseURL.count))
        var hrefs: [String] = []
        var rest = Substring(listing.text)
        while let open = rest.range(of: "<href>"), let close = rest.range(of: "</href>", range: open.upperBound..<rest.endIndex) {
            let href = String(rest[open.upperBound..<close.lowerBound])
            if href != collectionPath { hrefs.append(href) }
            rest = rest[close.upperBound...]
        }
        return try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
            var members: [String: String] = [:]
            var next = 0
            for _ in 0..<min(8, hrefs.count) {
                let href = hrefs[next]
                next += 1
                group.addTask { (href, try await self.get(self.url(ofHref: href))) }
            }
            while let (href, body) = try await group.next() {
                members[href] = String(decoding: body, as: UTF8.self)
                if next < hrefs.count {
                    let href = hrefs[next]
                    next += 1
                    group.addTask { (href, try await self.get(self.url(ofHref: href))) }
                }
            }
            return members
        }
    }

    /// The absolute URL of an href the server wrote (a path on this server).
    package func url(ofHref href: String) -> String {
        href.hasPrefix("http") ? href : baseURL + href
    }
}
