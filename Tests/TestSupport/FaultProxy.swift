import Foundation
import Glibc

/// An HTTP/1.1 proxy on 127.0.0.1 in front of one upstream server (normally the local S3),
/// which damages chosen requests on purpose: resets, stalls, 5xx answers, bodies cut short,
/// flipped bytes, bodies trickled out slowly. Point a store's endpoint at `endpoint`; the
/// signature still verifies, since requests reach the server unchanged unless a fault says
/// otherwise (SigV4 signs the Host header, and the proxy forwards it as the client sent it).
///
/// Which request gets which fault:
/// 1. `script(_:filter:)` queues faults (or `nil`, pass through) for the next requests the
///    filter selects, in order; deterministic, for pass/fail tests.
/// 2. Otherwise the `plan`: its rules (kinds, probability, filter) draw from a generator
///    seeded with `seed`, so a run reproduces given the same order of requests, until
///    `maximumFaults` were injected.
///
/// Every request is recorded (`records`) with the fault it got and the status the client saw.
/// Connections are kept alive as HTTP/1.1 allows; one upstream connection per client
/// connection. Stop it with `stop()` (also done on deinit).
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable, Equatable, CustomStringConvertible {
        /// Resets the client's connection (TCP RST) before the request is forwarded.
        case reset
        /// Forwards the request (it takes effect), then resets the client's connection
        /// instead of answering: the answer is lost.
        case resetAfterForwarding
        /// Reads the request and never answers, until the client gives up or the proxy stops.
        case stall
        /// Answers with this status and S3 error code without forwarding, e.g.
        /// `.status(503, code: "SlowDown")`, `.status(500, code: "InternalError")`.
        case status(Int, code: String)
        /// Forwards, but closes the connection after this fraction (0..<1) of the response
        /// body; the announced Content-Length stays, so the client sees a short body.
        case cutBody(fraction: Double)
        /// Forwards, with one byte of the response body inverted (position from the generator);
        /// only a successful (2xx) body, the kind a client verifies: an error answer passes
        /// unchanged, and a scripted flip then applies to the next matching request.
        case flipResponseByte
        /// Forwards the request with one byte of its body inverted (a PUT damaged on the way).
        case flipRequestByte
        /// Forwards, sending the response body at this many bytes per second.
        case trickle(bytesPerSecond: Int)

        public var description: String {
            switch self {
            case .reset: return "reset"
            case .resetAfterForwarding: return "reset-after-forwarding"
            case .stall: return "stall"
            case .status(let status, let code): return "status-\(status)-\(code)"
            case .cutBody(let fraction): return "cut-body-\(fraction)"
            case .flipResponseByte: return "flip-response-byte"
            case .flipRequestByte: return "flip-request-byte"
            case .trickle(let rate): return "trickle-\(rate)"
            }
        }

        /// Transient trouble any request must survive by retrying. Flipped bytes are not in it:
        /// only object bodies carry a checksum to notice them (use `RequestFilter.objectGets`).
        public static let transient: [Fault] = [.reset, .resetAfterForwarding, .status(503, code: "SlowDown"),
                                                .status(500, code: "InternalError"), .cutBody(fraction: 0.5)]
    }

    /// Which requests a rule or script entry applies to.
    public struct RequestFilter: Sendable, Equatable {
        /// `GET`, `PUT`, `HEAD`, …; empty: every method.
        public var methods: Set<String>
        /// Only requests for one object (a target without a query string), not listings.
        public var objectsOnly: Bool
        /// Only targets containing this text (e.g. a segment name).
        public var targetContains: String?

        public init(methods: Set<String> = [], objectsOnly: Bool = false, targetContains: String? = nil) {
            self.methods = methods
            self.objectsOnly = objectsOnly
            self.targetContains = targetContains
        }

        public static let all = RequestFilter()
        /// Object downloads: the bodies a sink verifies.
        public static let objectGets = RequestFilter(methods: ["GET"], objectsOnly: true)

        public func matches(method: String, target: String) -> Bool {
            (methods.isEmpty || methods.contains(method)) && (!objectsOnly || !target.contains("?"))
                && (targetContains.map { target.contains($0) } ?? true)
        }
    }

    /// Faults of some kinds, with some probability, for the requests a filter selects.
    public struct Rule: Sendable, Equatable {
        /// Chosen uniformly.
        public var faults: [Fault]
        /// Chance (0...1) that a matching request gets one.
        public var probability: Double
        public var filter: RequestFilter

        public init(faults: [Fault], probability: Double, filter: RequestFilter = .all) {
            self.faults = faults
            self.probability = probability
            self.filter = filter
        }
    }

    /// Random faults for requests the script does not cover: the first rule that matches a
    /// request and fires decides its fault; the generator is seeded, so the same sequence of
    /// requests gets the same faults.
    public struct Plan: Sendable, Equatable {
        public var rules: [Rule]
        public var seed: UInt64
        /// No more faults after this many (nil: no limit).
        public var maximumFaults: Int?

        public init(rules: [Rule], seed: UInt64 = 1, maximumFaults: Int? = nil) {
            self.rules = rules
            self.seed = seed
            self.maximumFaults = maximumFaults
        }

        /// One rule.
        public init(faults: [Fault], probability: Double, filter: RequestFilter = .all, seed: UInt64 = 1,
                    maximumFaults: Int? = nil) {
            self.init(rules: [Rule(faults: faults, probability: probability, filter: filter)], seed: seed,
                      maximumFaults: maximumFaults)
        }

        /// Forward everything unchanged.
        public static let none = Plan(rules: [])
    }

    /// One request as the proxy saw it.
    public struct Record: Sendable, Equatable {
        public var method: String
        /// The request target (path and query) as sent.
        public var target: String
        public var fault: Fault?
        /// The status the client was sent (nil when it got no status line: reset, stall).
        public var status: Int?
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `http://127.0.0.1:<port>`.
    public let endpoint: String
    public let port: UInt16
    private let upstreamPort: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var currentPlan: Plan
    private var generator: SeededGenerator
    private var scripted: [(fault: Fault?, filter: RequestFilter)] = []
    private var injected = 0
    private var log: [Record] = []
    private var openSockets: Set<Int32> = []
    private var stopped = false

    /// `upstream` is `http://127.0.0.1:<port>` (plain HTTP on the loopback only).
    public init(upstream: String, plan: Plan = .none) throws {
        guard upstream.hasPrefix("http://127.0.0.1:"), let upstreamPort = UInt16(upstream.dropFirst("http://127.0.0.1:".count)) else {
            throw StartFailure(description: "FaultProxy forwards to http://127.0.0.1:<port> only, not \(upstream)")
        }
        self.upstreamPort = upstreamPort
        currentPlan = plan
        generator = SeededGenerator(seed: plan.seed)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = LoopbackSocket.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 64) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw StartFailure(description: "FaultProxy cannot listen on 127.0.0.1: \(reason)")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        endpoint = "http://127.0.0.1:\(port)"
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// The random faults; replacing the plan reseeds the generator.
    public var plan: Plan {
        get { lock.withLock { currentPlan } }
        set {
            lock.withLock {
                currentPlan = newValue
                generator = SeededGenerator(seed: newValue.seed)
                injected = 0
            }
        }
    }

    /// Queues faults for the next requests that `filter` selects, in order; `nil` lets that
    /// request through unchanged. Runs before the plan.
    public func script(_ faults: [Fault?], filter: RequestFilter = .all) {
        lock.withLock { scripted += faults.map { ($0, filter) } }
    }

    /// Every request so far, in arrival order.
    public var records: [Record] { lock.withLock { log } }

    /// Requests that got a fault.
    public var faultsInjected: Int { lock.withLock { log.filter { $0.fault != nil }.count } }

    /// Closes the listener and every connection; stalled and trickling requests end.
    public func stop() {
        let sockets: Set<Int32> = lock.withLock {
            guard !stopped else { return [] }
            stopped = true
            return openSockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for descriptor in sockets { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    // MARK: Connections

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            guard track(client) else {
                close(client)
                return
            }
            let thread = Thread { [self] in
                serve(client)
                untrack(client)
                close(client)
            }
            thread.start()
        }
    }

    private func track(_ descriptor: Int32) -> Bool {
        lock.withLock {
            guard !stopped else { return false }
            openSockets.insert(descriptor)
            return true
        }
    }

    private func untrack(_ descriptor: Int32) {
        lock.withLock { _ = openSockets.remove(descriptor) }
    }

    /// Serves one client connection, request after request, until either side closes.
    private func serve(_ client: Int32) {
        let clientReader = SocketReader(client)
        var upstream: SocketReader?
        defer {
            if let upstream {
                untrack(upstream.descriptor)
                close(upstream.descriptor)
            }
        }
        while !isStopped {
            guard let request = HTTPMessage.readRequest(from: clientReader) else { return }
            let (decided, scriptedFilter) = decide(method: request.method, target: request.target)
            var fault = decided
            // Recorded on arrival (so a test that saw its request fail sees the record), its
            // status filled in once the client was answered.
            let recordIndex = lock.withLock {
                log.append(Record(method: request.method, target: request.target, fault: fault, status: nil))
                return log.count - 1
            }
            switch fault {
            case .reset:
                Self.reset(client)
                return
            case .stall:
                waitUntilClosed(client)
                return
            case .status(let status, let code):
                let body = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>injected by FaultProxy</Message><RequestId>fault-proxy</RequestId></Error>".utf8)
                let head = "HTTP/1.1 \(status) Injected\r\nContent-Type: application/xml\r\nContent-Length: \(body.count)\r\n\r\n"
                lock.withLock { log[recordIndex].status = status }
                guard Self.send(client, Array(head.utf8) + (request.method == "HEAD" ? [] : body)) else { return }
                if request.wantsClose { return }
                continue
            default:
                break
            }
            if upstream == nil {
                guard let connection = connectUpstream() else {
                    Self.reset(client)
                    return
                }
                upstream = SocketReader(connection)
            }
            guard let server = upstream else { return }
            var outgoing = request
            if fault == .flipRequestByte, !outgoing.body.isEmpty {
                let index = lock.withLock { Int.random(in: 0..<outgoing.body.count, using: &generator) }
                outgoing.body[index] ^= 0xff
            }
            guard Self.send(server.descriptor, outgoing.encoded),
                  let response = HTTPMessage.readResponseHead(from: server) else {
                Self.reset(client)
                return
            }
            if fault == .flipResponseByte && !(200..<300).contains(response.status) {
                // Only a successful body is verified by anyone: an error body stays intact, and
                // a scripted flip waits for the next matching request.
                fault = nil
                lock.withLock {
                    log[recordIndex].fault = nil
                    if let scriptedFilter { scripted.insert((.flipResponseByte, scriptedFilter), at: 0) }
                }
            }
            if fault != .resetAfterForwarding { lock.withLock { log[recordIndex].status = response.status } }
            let outcome = relay(response, request: request, fault: fault, from: server, to: client)
            if !outcome.upstreamUsable || response.wantsClose {
                untrack(server.descriptor)
                close(server.descriptor)
                upstream = nil
            }
            if !outcome.clientUsable || request.wantsClose { return }
        }
    }

    /// Sends the response head and body to the client, applying a body fault; says which
    /// connections can carry another request (not after a cut, a reset, a client gone, or an
    /// upstream body that ended with its connection).
    private func relay(_ response: HTTPMessage, request: HTTPMessage, fault: Fault?, from server: SocketReader,
                       to client: Int32) -> (clientUsable: Bool, upstreamUsable: Bool) {
        let bodyLength: Int?
        if request.method == "HEAD" || response.status / 100 == 1 || response.status == 204 || response.status == 304 {
            bodyLength = 0
        } else if response.isChunked {
            bodyLength = nil
        } else {
            bodyLength = response.contentLength
        }
        guard let length = bodyLength else {
            // Chunked or close-delimited: read it all, then send it with a Content-Length.
            let chunked = response.isChunked
            guard let body = chunked ? HTTPMessage.readChunkedBody(from: server) : server.readToEnd() else {
                Self.reset(client)
                return (false, false)
            }
            var head = response
            head.setContentLength(body.count)
            let delivered = relayKnownLength(head, body: .buffered(body), length: body.count, fault: fault, client: client)
            return (delivered, delivered && chunked)
        }
        let delivered = relayKnownLength(response, body: .streamed(server), length: length, fault: fault, client: client)
        return (delivered, delivered)
    }

    private enum BodySource {
        case buffered([UInt8])
        case streamed(SocketReader)
    }

    private func relayKnownLength(_ response: HTTPMessage, body: BodySource, length: Int, fault: Fault?, client: Int32) -> Bool {
        var cutAt = length
        var flipAt = -1
        var rate = 0
        switch fault {
        case .cutBody(let fraction) where length > 0:
            cutAt = min(length - 1, max(0, Int(Double(length) * fraction)))
        case .flipResponseByte where length > 0:
            flipAt = lock.withLock { Int.random(in: 0..<length, using: &generator) }
        case .trickle(let bytesPerSecond):
            rate = max(1, bytesPerSecond)
        default:
            break
        }
        let forwarding = fault != .resetAfterForwarding
        if forwarding && !Self.send(client, response.encodedHead) { return false }
        var sent = 0
        var buffered = 0
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while sent < length {
            let count: Int
            switch body {
            case .buffered(let bytes):
                count = min(chunk.count, length - sent)
                chunk.replaceSubrange(0..<count, with: bytes[buffered..<(buffered + count)])
                buffered += count
            case .streamed(let server):
                count = server.read(into: &chunk, upTo: min(chunk.count, length - sent))
                if count <= 0 {
                    Self.reset(client)
                    return false
                }
            }
            var piece = Array(chunk[0..<count])
            if flipAt >= sent && flipAt < sent + count { piece[flipAt - sent] ^= 0xff }
            if !forwarding {
                sent += count
                continue
            }
            if sent + count > cutAt {
                _ = Self.send(client, Array(piece[0..<(cutAt - sent)]))
                shutdown(client, Int32(SHUT_WR))
                return false
            }
            if rate > 0 {
                guard trickle(piece, rate: rate, to: client) else { return false }
            } else if !Self.send(client, piece) {
                return false
            }
            sent += count
        }
        if !forwarding {
            Self.reset(client)
            return false
        }
        return true
    }

    /// Sends `bytes` in slices of an eighth of `rate`, one every 125 ms.
    private func trickle(_ bytes: [UInt8], rate: Int, to client: Int32) -> Bool {
        let slice = max(1, rate / 8)
        var offset = 0
        while offset < bytes.count {
            if isStopped { return false }
            let end = min(bytes.count, offset + slice)
            guard Self.send(client, Array(bytes[offset..<end])) else { return false }
            offset = end
            usleep(125_000)
        }
        return true
    }

    /// The fault for a request, and the filter of the script entry it came from (if it did).
    private func decide(method: String, target: String) -> (Fault?, RequestFilter?) {
        lock.withLock {
            if let index = scripted.firstIndex(where: { $0.filter.matches(method: method, target: target) }) {
                let entry = scripted.remove(at: index)
                return (entry.fault, entry.filter)
            }
            guard currentPlan.maximumFaults.map({ injected < $0 }) ?? true else { return (nil, nil) }
            for rule in currentPlan.rules where !rule.faults.isEmpty && rule.filter.matches(method: method, target: target) {
                guard Double.random(in: 0..<1, using: &generator) < rule.probability else { continue }
                injected += 1
                return (rule.faults[Int.random(in: 0..<rule.faults.count, using: &generator)], nil)
            }
            return (nil, nil)
        }
    }

    private func connectUpstream() -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = LoopbackSocket.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected, track(descriptor) else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Blocks until the peer closes (or the proxy stops), reading and dropping what it sends.
    private func waitUntilClosed(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !isStopped {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { return }
            if ready > 0 {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { return }
            }
        }
    }

    private static func reset(_ descriptor: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(descriptor, Int32(SHUT_RD))
    }

    @discardableResult
    private static func send(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }
}

/// Buffered reads from one socket.
final class SocketReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(_ descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Bytes up to and including `delimiter`; nil if the peer closed first.
    func read(through delimiter: [UInt8], limit: Int = 1 << 20) -> [UInt8]? {
        while true {
            if buffer.count - start >= delimiter.count {
                var index = start
                while index <= buffer.count - delimiter.count {
                    if buffer[index] == delimiter[0] && buffer[index..<(index + delimiter.count)].elementsEqual(delimiter) {
                        let result = Array(buffer[start..<(index + delimiter.count)])
                        start = index + delimiter.count
                        return result
                    }
                    index += 1
                }
            }
            if buffer.count - start > limit || !fill() { return nil }
        }
    }

    /// Exactly `count` bytes; nil if the peer closed first.
    func read(exactly count: Int) -> [UInt8]? {
        while buffer.count - start < count {
            if !fill() { return nil }
        }
        let result = Array(buffer[start..<(start + count)])
        start += count
        return result
    }

    /// Up to `limit` bytes into `target` (buffered bytes first); 0 when the peer closed.
    func read(into target: inout [UInt8], upTo limit: Int) -> Int {
        if buffer.count == start && !fill() { return 0 }
        let count = min(limit, buffer.count - start)
        target.replaceSubrange(0..<count, with: buffer[start..<(start + count)])
        start += count
        return count
    }

    /// Everything until the peer closes.
    func readToEnd() -> [UInt8]? {
        while fill() {}
        let result = Array(buffer[start...])
        start = buffer.count
        return result
    }

    private func fill() -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count > 0 {
                buffer += chunk[0..<count]
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }
}

/// The head of one HTTP/1.1 request or response (and a request's body), parsed just enough
/// to forward it.
struct HTTPMessage {
    var startLine: String
    var headers: [(name: String, value: String)]
    var body: [UInt8] = []

    var method: String { String(startLine.split(separator: " ").first ?? "") }
    var target: String { startLine.split(separator: " ").dropFirst().first.map(String.init) ?? "" }
    var status: Int { Int(startLine.split(separator: " ").dropFirst().first ?? "") ?? 0 }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }

    var contentLength: Int? { header("content-length").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var isChunked: Bool { header("transfer-encoding")?.lowercased().contains("chunked") ?? false }
    var wantsClose: Bool {
        header("connection")?.lowercased().contains("close") ?? startLine.hasPrefix("HTTP/1.0")
    }

    mutating func setContentLength(_ length: Int) {
        headers.removeAll { ["content-length", "transfer-encoding"].contains($0.name.lowercased()) }
        headers.append(("Content-Length", String(length)))
    }

    var encodedHead: [UInt8] {
        Array((([startLine] + headers.map { "\($0.name): \($0.value)" }).joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    var encoded: [UInt8] { encodedHead + body }

    static func readRequest(from reader: SocketReader) -> HTTPMessage? {
        guard var message = readHead(from: reader) else { return nil }
        if message.isChunked {
            guard let body = readChunkedBody(from: reader) else { return nil }
            message.setContentLength(body.count)
            message.body = body
        } else if let length = message.contentLength, length > 0 {
            guard let body = reader.read(exactly: length) else { return nil }
            message.body = body
        }
        return message
    }

    static func readResponseHead(from reader: SocketReader) -> HTTPMessage? {
        readHead(from: reader)
    }

    static func readChunkedBody(from reader: SocketReader) -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            guard let line = reader.read(through: Array("\r\n".utf8)) else { return nil }
            let sizeText = String(decoding: line.dropLast(2), as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            if size == 0 {
                // Trailers, up to the empty line.
                while let trailer = reader.read(through: Array("\r\n".utf8)), trailer.count > 2 {}
                return body
            }
            guard let chunk = reader.read(exactly: size + 2) else { return nil }
            body += chunk.dropLast(2)
        }
    }

    private static func readHead(from reader: SocketReader) -> HTTPMessage? {
        guard let bytes = reader.read(through: Array("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: bytes.dropLast(4), as: UTF8.self).components(separatedBy: "\r\n")
        guard let first = lines.first, !first.isEmpty else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        return HTTPMessage(startLine: first, headers: headers)
    }
}
