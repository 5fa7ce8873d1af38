import AsyncHTTPClient
import FerryCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The verification keys of a ``JWTConfiguration``, kept current: a shared secret never
/// changes; a JWKS file is re-read when it changed on disk; a JWKS URL is fetched again when
/// its keys are older than the cache duration, or early for an unknown `kid` within the
/// refetch rate limit. Concurrent callers that need a fetch share one.
actor JWTKeySource {
    /// What is known of the keys' origin between two looks at it.
    private enum Origin {
        case fixed(JWTKeySet)
        case file(path: String)
        case url(String)
    }

    /// The identity of a file's content on disk, to notice a change without reading it.
    private struct FileStamp: Equatable {
        var modified: Date?
        var size: Int64?
        var inode: UInt64?
    }

    private let origin: Origin
    private let configuration: JWTConfiguration
    private let clock: WallClock
    private let httpClient: HTTPClient
    private let logger: Logger

    private var current: JWTKeySet?
    /// When the file was last looked at, or the URL last fetched (successfully or not), ms.
    private var lastLook: Int64?
    /// When the URL's keys were last fetched successfully, ms.
    private var fetchedAt: Int64?
    private var stamp: FileStamp?
    private var inflight: Task<Void, Never>?
    /// How many times the URL was fetched, for tests.
    private(set) var fetches = 0

    init(configuration: JWTConfiguration, clock: WallClock, httpClient: HTTPClient, logger: Logger) async {
        self.configuration = configuration
        self.clock = clock
        self.httpClient = httpClient
        self.logger = logger
        switch configuration.keys {
        case .hs256(let secret): origin = .fixed(await JWTKeySet.hs256(secret: secret))
        case .jwksFile(let path): origin = .file(path: path)
        case .jwksURL(let url): origin = .url(url)
        }
    }

    /// The keys to verify a token naming `keyID` with; `nil` when there are none (the file
    /// cannot be read, the URL never answered).
    func keys(for keyID: String?) async -> JWTKeySet? {
        switch origin {
        case .fixed(let keys):
            return keys
        case .file(let path):
            let now = clock.nowMilliseconds()
            let due = lastLook.map { now - $0 >= configuration.jwksFileCheckInterval.wholeMilliseconds } ?? true
            let unknown = keyID.map { !(current?.keyIDs.contains($0) ?? false) } ?? false
            if current == nil || due || unknown {
                lastLook = now
                await reloadFileIfChanged(path)
            }
            return current
        case .url(let url):
            let now = clock.nowMilliseconds()
            let stale = fetchedAt.map { now - $0 >= configuration.jwksCacheDuration.wholeMilliseconds } ?? true
            let unknown = keyID.map { !(current?.keyIDs.contains($0) ?? false) } ?? false
            let allowed = lastLook.map { now - $0 >= configuration.jwksMinimumRefetchInterval.wholeMilliseconds } ?? true
            if let inflight {
                await inflight.value
            } else if (stale || unknown) && allowed {
                // Stale keys are used while the first fetch is refused by the rate limit too:
                // an identity provider that is down does not lock everyone out at once.
                lastLook = now
                let task = Task { await self.fetch(url) }
                inflight = task
                await task.value
                inflight = nil
            }
            return current
        }
    }

    /// The number of fetches of a JWKS URL so far.
    func fetchCount() -> Int { fetches }

    private func reloadFileIfChanged(_ path: String) async {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = FileStamp(
            modified: attributes?[.modificationDate] as? Date,
            size: (attributes?[.size] as? NSNumber)?.int64Value,
            inode: (attributes?[.systemFileNumber] as? NSNumber)?.uint64Value
        )
        guard current == nil || stamp != self.stamp else { return }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let keys = try await JWTKeySet.parse(jwks: data)
            // Re-checked after the await: a newer reload may have finished meanwhile.
            current = keys
            self.stamp = stamp
            logger.info("loaded the JWKS file", metadata: ["ferry.jwks.path": "\(path)", "ferry.jwks.keys": "\(keys.keyIDs.count)"])
        } catch {
            logger.warning(
                "the JWKS file cannot be used; the keys loaded before stay",
                metadata: ["ferry.jwks.path": "\(path)", "error": "\(error)"]
            )
        }
    }

    private func fetch(_ url: String) async {
        fetches += 1
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await httpClient.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw JWKSError(message: "the JWKS URL answered \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            current = try await JWTKeySet.parse(jwks: Data(buffer: body))
            fetchedAt = clock.nowMilliseconds()
        } catch {
            logger.warning(
                "fetching the JWKS failed; the keys fetched before stay",
                metadata: ["ferry.jwks.url": "\(url)", "error": "\(error)"]
            )
        }
    }
}
