import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on 127.0.0.1 in front of a local server that passes requests through unchanged
/// (so the server still checks every signature) and lets at most `allowance` bytes of
/// responses through until `open()`: a download through it stops where the test decides, so a
/// signal sent to the downloading tool always arrives mid-download.
public final class GatedRelay: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `http://127.0.0.1:<port>` of the relay.
    public let endpoint: String
    private let upstreamPort: UInt16
    private let listener: Int32
    private let condition = NSCondition()
    private var remaining: Int
    private var isOpen = false
    private var stopped = false
    private var listening = true
    private var accepted = 0
    private var openConnections = 0
    private var unused = 0
    private var sockets: [Int32] = []

    /// `upstream` is the server's `http://127.0.0.1:<port>` endpoint.
    public init(upstream: String, allowance: Int) throws {
        guard let url = URL(string: upstream), url.host == "127.0.0.1", let upstreamPort = url.port else {
            throw Failure(description: "the relay only forwards to http://127.0.0.1:<port>, not \(upstream)")
        }
        self.upstreamPort = UInt16(upstreamPort)
        remaining = allowance
        let (listener, port) = try LoopbackSocket.bind(listening: 16)
        self.listener = listener
        endpoint = "http://127.0.0.1:\(port)"
        Thread.detachNewThread { [self] in acceptConnections() }
    }

    deinit { stop() }

    /// Lets every byte through from now on.
    public func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    /// Closes the listener and every connection.
    public func stop() {
        condition.lock()
        guard !stopped else { return condition.unlock() }
        stopped = true
        condition.broadcast()
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
        condition.unlock()
        closeListener()
    }

    /// Client connections accepted so far (each is one TCP connection of a client).
    public var connectionCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return accepted
    }

    /// Waits until at least `count` connections were accepted (at most `seconds`); whether they were.
    public func waitForConnections(_ count: Int, seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while accepted < count {
            if !condition.wait(until: deadline) { return accepted >= count }
        }
        return true
    }

    /// Connections that ended without the client sending a byte (opened, never used).
    public var unusedConnectionCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return unused
    }

    /// Waits until every accepted connection has ended (at most `seconds`); whether they have.
    public func waitUntilNoConnectionIsOpen(seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while openConnections > 0 {
            if !condition.wait(until: deadline) { return openConnections == 0 }
        }
        return true
    }

    /// Stops listening: a new connection is refused from now on, those accepted go on.
    public func refuseNewConnections() {
        closeListener()
    }

    private func closeListener() {
        condition.lock()
        let open = listening
        listening = false
        condition.unlock()
        guard open else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptConnections() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            condition.lock()
            accepted += 1
            openConnections += 1
            condition.broadcast()
            condition.unlock()
            let server = LoopbackSocket.connect(port: upstreamPort) ?? -1
            let connected = server >= 0
            condition.lock()
            sockets += [client, server]
            let refused = stopped || !connected
            condition.unlock()
            if refused {
                condition.lock()
                sockets.removeAll { $0 == client || $0 == server }
                close(client)
                if server >= 0 { close(server) }
                openConnections -= 1
                condition.broadcast()
                condition.unlock()
                continue
            }
            // Both sockets are closed by whichever direction ends last, and only then leave
            // `sockets`: `stop()` never touches a descriptor number that may have been reused.
            let pumpsLeft = ManagedCounter(2)
            let finish: @Sendable () -> Void = { [self] in
                guard pumpsLeft.decrement() == 0 else { return }
                condition.lock()
                sockets.removeAll { $0 == client || $0 == server }
                close(client)
                close(server)
                openConnections -= 1
                condition.broadcast()
                condition.unlock()
            }
            Thread.detachNewThread { [self] in
                if pump(from: client, to: server, gated: false) == 0 {
                    condition.lock()
                    unused += 1
                    condition.unlock()
                }
                finish()
            }
            Thread.detachNewThread { [self] in pump(from: server, to: client, gated: true); finish() }
        }
    }

    /// Copies until either side closes; responses (`gated`) wait at the allowance until `open()`.
    /// The bytes read from `source`.
    @discardableResult
    private func pump(from source: Int32, to target: Int32, gated: Bool) -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        defer {
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(target, Int32(SHUT_RDWR))
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return total }
            total += count
            var sent = 0
            while sent < count {
                var chunk = count - sent
                if gated {
                    condition.lock()
                    while !isOpen && !stopped && remaining == 0 { condition.wait() }
                    if stopped {
                        condition.unlock()
                        return total
                    }
                    if !isOpen {
                        chunk = min(chunk, remaining)
                        remaining -= chunk
                    }
                    condition.unlock()
                }
                let written = buffer.withUnsafeBytes { send(target, $0.baseAddress! + sent, chunk, Int32(MSG_NOSIGNAL)) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return total }
                if gated && written < chunk {
                    condition.lock()
                    if !isOpen { remaining += chunk - written }
                    condition.unlock()
                }
                sent += written
            }
        }
    }
}

/// A count shared by two threads.
private final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int

    init(_ value: Int) { self.value = value }

    func decrement() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value -= 1
        return value
    }
}
