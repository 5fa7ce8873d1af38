import FerryCore
import FerryHTTP
import FerryTestSupport
import Foundation

/// Collects the token pairs a transport hands over.
actor TokenPairRecorder {
    private(set) var pairs: [TokenPair] = []

    func record(_ pair: TokenPair) { pairs.append(pair) }
}

extension TestServer {
    /// A transport to this server; it uses its own HTTP client unless `shared` is true.
    func transport(
        accessToken: String,
        refreshToken: String? = nil,
        requestTimeout: Duration = .seconds(30),
        shared: Bool = false,
        recorder: TokenPairRecorder? = nil
    ) -> HTTPTransport {
        HTTPTransport(
            configuration: HTTPTransportConfiguration(
                baseURL: http.baseURL,
                accessToken: accessToken,
                refreshToken: refreshToken,
                requestTimeout: requestTimeout,
                httpClient: shared ? http.client : nil,
                onTokensRefreshed: { pair in await recorder?.record(pair) }
            )
        )
    }
}

/// Runs `body` with `transport`, shutting it down afterwards whatever happens.
func using<T: Sendable>(_ transport: HTTPTransport, _ body: (HTTPTransport) async throws -> T) async throws -> T {
    let result: Result<T, any Error>
    do {
        result = .success(try await body(transport))
    } catch {
        result = .failure(error)
    }
    try await transport.shutdown()
    return try result.get()
}

/// The `SyncTransportError` that `body` throws, or `nil` when it throws something else or nothing.
func transportError(_ body: () async throws -> some Any) async -> SyncTransportError? {
    do {
        _ = try await body()
        return nil
    } catch let error as SyncTransportError {
        return error
    } catch {
        return nil
    }
}

/// The `DeltaSourceError` that `body` throws, or `nil` when it throws something else or nothing.
func sourceError(_ body: () async throws -> some Any) async -> DeltaSourceError? {
    do {
        _ = try await body()
        return nil
    } catch let error as DeltaSourceError {
        return error
    } catch {
        return nil
    }
}

extension DeltaPage {
    /// The token of the next page, or `nil` when this page ends its drain.
    var pageToken: String? {
        if case .page(let token) = next { return token }
        return nil
    }
}
