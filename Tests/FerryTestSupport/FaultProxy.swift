import FerryTestKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What a ``FaultProxy`` does to one connection between a client and the server.
public enum ProxyFault: Sendable, Hashable, CustomStringConvertible {
    /// Forwards both ways untouched.
    case none
    /// Resets the connection (RST) as soon as the client's first bytes arrive: nothing
    /// reaches the server.
    case resetBeforeRequest
    /// Forwards the request; resets the client's connection when the server's answer starts
    /// coming back: the server did the work, the client never hears of it.
    case dropAnswer
    /// Forwards the answer's head and the first `keeping` bytes of its body, then closes
    /// both connections: a truncated body.
    case truncateBody(keeping: Int)
    /// Holds the request, then the answer, for this long each before forwarding them.
    case latency(Duration)
    /// Accepts and reads the request, never forwards it and never answers: a stalled server.
    case stallBeforeAnswer
    /// Forwards the answer's head and the first `keeping` bytes of its body, then forwards
    /// nothing more and keeps the connection open: a server stalled mid-answer.
    case stallBody(keeping: Int)

    /// The fault's case name, without its value: `stallBody` for every `stallBody(keeping:)`.
    public var kind: String {
        switch self {
        case .none: "none"
        case .resetBeforeRequest: "resetBeforeRequest"
        case .dropAnswer: "dropAnswer"
        case .truncateBody: "truncateBody"
        case .latency: "latency"
        case .stallBeforeAnswer: "stallBeforeAnswer"
        case .stallBody: "stallBody"
        }
    }

    /// A short name, for messages.
    public var description: String {
        switch self {
        case .none: "none"
        case .resetBeforeRequest: "reset before the request"
        case .dropAnswer: "answer dropped"
        case .truncateBody(let keeping): "body truncated after \(keeping) bytes"
        case .latency(let delay): "latency \(delay)"
        case .stallBeforeAnswer: "stalled before the answer"
        case .stallBody(let keeping): "stalled after \(keeping) bytes of the body"
        }
    }
}

/// How a ``FaultProxy`` picks each new connection's fault.
///
/// The fault is chosen when the connection's first request line arrives; with `onlyFor`, only
/// connections whose first request's path starts with that prefix get one (and consume the
/// script), the others are forwarded untouched.
public struct FaultPlan: Sendable {
    var script: [ProxyFault]
    var then: ProxyFault
    var random: (generator: SeededGenerator, faults: [(fault: ProxyFault, weight: Int)])?
    var onlyFor: String?

    /// Every connection forwarded untouched.
    public static let none = FaultPlan(script: [], then: .none, random: nil, onlyFor: nil)

    /// The next connections get `faults` in order, the ones after them `then`.
    public static func script(_ faults: [ProxyFault], then: ProxyFault = .none, onlyFor path: String? = nil) -> FaultPlan {
        FaultPlan(script: faults, then: then, random: nil, onlyFor: path)
    }

    /// Each connection gets a fault drawn from `faults`, in proportion to its weight, by a
    /// generator seeded with `seed` (the same seed gives the same sequence of faults), after
    /// the connections that get `first` in order.
    public static func random(
        seed: UInt64,
        _ faults: [(fault: ProxyFault, weight: Int)],
        first: [ProxyFault] = [],
        onlyFor path: String? = nil
    ) -> FaultPlan {
        FaultPlan(script: first, then: .none, random: (SeededGenerator(seed: seed), faults.filter { $0.weight > 0 }), onlyFor: path)
    }

    /// The fault of a connection whose first request line is `requestLine`.
    mutating func next(for requestLine: String) -> ProxyFault {
        if let onlyFor {
            let path = requestLine.split(separator: " ").dropFirst().first ?? ""
            guard path.hasPrefix(onlyFor) else { return .none }
        }
        if !script.isEmpty { return script.removeFirst() }
        guard var random, !random.faults.isEmpty else { return then }
        var draw = Int.random(in: 0..<random.faults.reduce(0) { $0 + $1.weight }, using: &random.generator)
        self.random = random
        for entry in random.faults {
            if draw < entry.weight { return entry.fault }
            draw -= entry.weight
        }
        return then
    }
}

/// A TCP proxy on 127.0.0.1 between clients and a server, on SwiftNIO, that injects a fault
/// chosen per connection by its ``FaultPlan`` (see ``ProxyFault``). It publishes what it did
/// (``records``), and can be pointed at a restarted server (``setUpstream(port:)``) so that
/// clients keep one address. Stop it with ``stop()`` (``with(upstreamPort:plan:_:)`` does).
///
/// A fault is chosen when a connection is accepted; HTTP clients keep connections alive, so
/// a test that wants one fault per request gives its client
/// `maximumUsesPerConnection = 1`.
public final class FaultProxy: Sendable {
    /// What happened to one connection.
    public struct Record: Sendable, Hashable {
        /// The connection's number, from 0, in the order accepted.
        public var index: Int
        /// The fault it was given (`none` until its first request line arrives).
        public var fault: ProxyFault = .none
        /// Its first request line, such as `POST /sync/mutations/push HTTP/1.1`.
        public var request = ""
        /// Bytes of the client's forwarded to the server.
        public var requestBytes = 0
        /// Bytes of the server's answer received.
        public var answerBytes = 0
        /// Bytes of the server's answer forwarded to the client.
        public var forwardedBytes = 0
        /// The fault took effect (the connection reached the point it cuts).
        public var struck = false
    }

    private struct State {
        var plan: FaultPlan
        var upstreamPort: Int
        var records: [Record] = []
        var channels: [Int: any Channel] = [:]
        var stopped = false
    }

    private let state: Mutex<State>
    private let server: any Channel
    /// The port the proxy listens on.
    public let port: Int

    /// The proxy's root URL, `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(server: any Channel, plan: FaultPlan, upstreamPort: Int) {
        self.server = server
        self.port = server.localAddress?.port ?? 0
        self.state = Mutex(State(plan: plan, upstreamPort: upstreamPort))
    }

    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `127.0.0.1:upstreamPort`.
    public static func start(upstreamPort: Int, plan: FaultPlan = .none) async throws -> FaultProxy {
        let box = ProxyBox()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let proxy = box.proxy.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    let (index, upstream) = proxy.admit(channel)
                    let connection = ProxyConnection(proxy: proxy, index: index, client: channel, upstreamPort: upstream)
                    try channel.pipeline.syncOperations.addHandler(ClientHandler(connection: connection))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = FaultProxy(server: server, plan: plan, upstreamPort: upstreamPort)
        box.proxy.withLock { $0 = proxy }
        return proxy
    }

    /// Runs `body` with a proxy to `127.0.0.1:upstreamPort`, and stops it when `body`
    /// returns or throws.
    public static func with<T: Sendable>(
        upstreamPort: Int,
        plan: FaultPlan = .none,
        _ body: (FaultProxy) async throws -> T
    ) async throws -> T {
        let proxy = try await start(upstreamPort: upstreamPort, plan: plan)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(proxy))
        } catch {
            result = .failure(error)
        }
        await proxy.stop()
        return try result.get()
    }

    /// Replaces the plan for the connections accepted from now on.
    public func setPlan(_ plan: FaultPlan) {
        state.withLock { $0.plan = plan }
    }

    /// Forwards the connections accepted from now on to `127.0.0.1:port`.
    public func setUpstream(port: Int) {
        state.withLock { $0.upstreamPort = port }
    }

    /// What happened to each connection so far, in the order accepted.
    public var records: [Record] { state.withLock { $0.records } }

    /// Closes every open connection (stalled ones included); the proxy keeps listening.
    public func closeConnections() {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Stops listening and closes every connection.
    public func stop() async {
        state.withLock { $0.stopped = true }
        try? await server.close()
        closeConnections()
    }

    fileprivate func admit(_ channel: any Channel) -> (Int, Int) {
        state.withLock { state in
            let index = state.records.count
            state.records.append(Record(index: index))
            if state.stopped {
                channel.close(promise: nil)
            } else {
                state.channels[index] = channel
            }
            return (index, state.upstreamPort)
        }
    }

    fileprivate func chooseFault(_ index: Int, requestLine: String) -> ProxyFault {
        state.withLock { state in
            let fault = state.plan.next(for: requestLine)
            state.records[index].fault = fault
            state.records[index].request = requestLine
            return fault
        }
    }

    fileprivate func update(_ index: Int, _ change: (inout Record) -> Void) {
        state.withLock { change(&$0.records[index]) }
    }

    fileprivate func forget(_ index: Int) {
        _ = state.withLock { $0.channels.removeValue(forKey: index) }
    }
}

/// The proxy, once started, for the channel initializer that runs before it exists.
private final class ProxyBox: Sendable {
    let proxy = Mutex<FaultProxy?>(nil)
}

/// One client connection and its way to the server; lives on the client channel's event loop.
private final class ProxyConnection {
    let proxy: FaultProxy
    let index: Int
    /// `nil` until the first request line arrives.
    var fault: ProxyFault?
    /// The client's bytes until its first request line is complete.
    var firstBytes: [UInt8] = []
    let client: any Channel
    let upstreamPort: Int
    var upstream: (any Channel)?
    var requestHeld: [ByteBuffer] = []
    var requestGateOpen = false
    var answerHeld: [ByteBuffer] = []
    var answerGate: Bool?
    /// Answer bytes seen until the end of the head (`\r\n\r\n`), while looking for it.
    var head: [UInt8] = []
    /// Answer bytes still to forward before a body fault strikes; `nil` until the head ends.
    var allowance: Int?
    var struck = false
    var started = false
    var closed = false

    init(proxy: FaultProxy, index: Int, client: any Channel, upstreamPort: Int) {
        self.proxy = proxy
        self.index = index
        self.client = client
        self.upstreamPort = upstreamPort
    }

    var loop: any EventLoop { client.eventLoop }

    /// Chooses the fault once the first request line is complete, and connects upstream
    /// unless the fault never lets anything through.
    private func start(_ fault: ProxyFault) {
        guard !started else { return }
        started = true
        self.fault = fault
        switch fault {
        case .resetBeforeRequest, .stallBeforeAnswer:
            return
        case .latency(let delay):
            loop.assumeIsolated().scheduleTask(in: Self.timeAmount(delay)) { self.connect() }
        default:
            connect()
        }
    }

    private func connect() {
        guard !closed else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(connection: bound.value))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    if self.closed {
                        channel.close(promise: nil)
                        return
                    }
                    self.upstream = channel
                    self.requestGateOpen = true
                    for buffer in self.requestHeld { self.sendUpstream(buffer) }
                    self.requestHeld = []
                case .failure:
                    self.close(reset: true)
                }
            }
    }

    func fromClient(_ buffer: ByteBuffer) {
        guard !closed else { return }
        if fault == nil {
            firstBytes += buffer.readableBytesView
            let newline = firstBytes.firstIndex(of: 10)
            guard newline != nil || firstBytes.count >= 4096 else {
                requestHeld.append(buffer)
                return
            }
            let line = String(decoding: firstBytes[..<(newline ?? firstBytes.count)], as: UTF8.self)
            firstBytes = []
            start(proxy.chooseFault(index, requestLine: line.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        switch fault {
        case .resetBeforeRequest:
            strike()
            close(reset: true)
        case .stallBeforeAnswer:
            strike()
        default:
            if requestGateOpen { sendUpstream(buffer) } else { requestHeld.append(buffer) }
        }
    }

    private func sendUpstream(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        proxy.update(index) { $0.requestBytes += count }
        upstream?.writeAndFlush(buffer, promise: nil)
    }

    func fromServer(_ buffer: ByteBuffer) {
        guard !closed else { return }
        let count = buffer.readableBytes
        proxy.update(index) { $0.answerBytes += count }
        switch fault {
        case .dropAnswer:
            strike()
            close(reset: true)
        case .latency(let delay):
            switch answerGate {
            case true?:
                sendClient(buffer)
            case false?:
                answerHeld.append(buffer)
            case nil:
                answerGate = false
                answerHeld.append(buffer)
                loop.assumeIsolated().scheduleTask(in: Self.timeAmount(delay)) {
                    self.answerGate = true
                    self.strike()
                    for held in self.answerHeld { self.sendClient(held) }
                    self.answerHeld = []
                }
            }
        case .truncateBody(let keeping), .stallBody(let keeping):
            forwardBody(buffer, keeping: keeping)
        default:
            sendClient(buffer)
        }
    }

    /// Forwards the head and `keeping` bytes of the body, then truncates or stalls.
    private func forwardBody(_ buffer: ByteBuffer, keeping: Int) {
        guard !struck else { return }
        var bytes = Array(buffer.readableBytesView)
        if allowance == nil {
            head += bytes
            guard let end = Self.headEnd(head) else { return }
            bytes = head
            allowance = end + keeping
            head = []
        }
        let sent = min(bytes.count, allowance ?? 0)
        if sent > 0 { sendClient(ByteBuffer(bytes: bytes[..<sent])) }
        allowance = (allowance ?? 0) - sent
        guard allowance == 0, sent < bytes.count || bytes.isEmpty else { return }
        strike()
        if case .truncateBody? = fault { close(reset: false) }
    }

    /// The length of the head (through `\r\n\r\n`), once it has all arrived.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    private func sendClient(_ buffer: ByteBuffer) {
        let count = buffer.readableBytes
        proxy.update(index) { $0.forwardedBytes += count }
        client.writeAndFlush(buffer, promise: nil)
    }

    private func strike() {
        guard !struck else { return }
        struck = true
        proxy.update(index) { $0.struck = true }
    }

    /// Closes both connections; with `reset`, the client's with RST (`SO_LINGER` 0).
    func close(reset: Bool) {
        guard !closed else { return }
        closed = true
        upstream?.close(promise: nil)
        proxy.forget(index)
        if reset, let provider = client as? any SocketOptionProvider {
            let client = self.client
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in client.close(promise: nil) }
        } else {
            client.close(promise: nil)
        }
    }

    /// The server closed its side: the client's follows, unless a stall holds it open.
    func serverClosed() {
        switch fault {
        case .stallBody? where struck:
            return
        default:
            if case .latency? = fault, answerGate == false {
                // The held answer goes out first.
                loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { self.serverClosed() }
                return
            }
            close(reset: false)
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

private final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let connection: ProxyConnection

    init(connection: ProxyConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.fromClient(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.close(reset: false)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.close(reset: false)
    }
}

private final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let connection: ProxyConnection

    init(connection: ProxyConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.fromServer(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.serverClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
