import Hummingbird

/// Times every request and counts it by method, route and status.
struct RequestMetricsMiddleware: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(
        _ request: Request,
        context: FerryRequestContext,
        next: (Request, FerryRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            method: request.method.rawValue,
            route: context.endpointPath ?? "NotFound",
            status: response.status.code,
            duration: ContinuousClock.now - start
        )
        return response
    }
}
