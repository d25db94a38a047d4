import CCurl
import Glibc

/// The TCP connection of a call's first S3 request, opened on a second thread while the call
/// does what comes before that request: `wal-push` reads and hashes its segment before its
/// first PUT, `wal-fetch` loads libcurl and reads its local state before its first GET. Without
/// it, the first request starts with a connect: one round trip to the endpoint, idle.
///
/// Only for a call that will certainly make a request (`S3Store(settings:connectsEarly:)`; the
/// commands ask for it only after a served prefetched file or a push-ahead record is ruled out),
/// and never when libcurl would go through a proxy (`proxied`): a wasted connection per call
/// would cost a real endpoint more than it saves.
///
/// libcurl gets the socket from CURLOPT_OPENSOCKETFUNCTION (`CurlClient`) when it asks for exactly
/// the address connected to, and only once. Never a different outcome, whatever happens here:
/// - A socket handed over has completed its handshake and was never given to a second connect()
///   call. libcurl then calls connect() on it itself, as on any socket it gets, and Linux answers
///   0 for it (the socket layer still says "connecting", the TCP state is "established": the
///   kernel completes the connect; see __inet_stream_connect), so libcurl goes on as after a
///   connect that succeeded at once. CURL_SOCKOPT_ALREADY_CONNECTED, the documented way, is
///   not used: libcurl 7.88 (Debian 12) still calls connect() after it and fails the transfer
///   with EISCONN ("Immediate connect fail"; fixed in libcurl 8.0). A socket whose connect()
///   succeeded at once (never for TCP on Linux) would give EISCONN, so it is never handed over.
/// - Anything else (resolution or connect failed, timed out, another address asked for, the
///   server closed the connection meanwhile) and libcurl gets a socket of its own, exactly as
///   without this, and connects, fails and reports as it always did.
/// - The socket is taken at most once; `discard` after the first request closes it if unused,
///   so retries (`RetryPolicy`) and later requests connect as usual and leak nothing.
final class EarlyConnection: @unchecked Sendable {
    /// The host as in the request's URL (an IPv6 literal without brackets) and its port.
    let host: String
    let port: UInt16
    private let timeoutMilliseconds: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private var resolved = false
    private var connected = false
    /// "+host:port:address,…" for CURLOPT_RESOLVE, for a name (not for an address literal).
    private var resolveEntry: String?
    private var descriptor: Int32 = -1
    private var peer: [UInt8] = []
    private var finished = false

    /// Starts connecting to `host`:`port` (the authority of the request URLs; for https the
    /// handshake is still libcurl's), or nil when nothing should be connected early.
    static func start(scheme: String, host: String, port: UInt16, timeoutMilliseconds: Int) -> EarlyConnection? {
        guard !proxied(scheme: scheme), host.utf8.allSatisfy({ $0 < 0x80 }), !host.contains("%") else { return nil }
        let connection = EarlyConnection(host: host, port: port, timeoutMilliseconds: timeoutMilliseconds)
        let context = Unmanaged.passRetained(connection).toOpaque()
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { context in
            Unmanaged<EarlyConnection>.fromOpaque(context!).takeRetainedValue().connect()
            return nil
        }, context) == 0 else {
            Unmanaged<EarlyConnection>.fromOpaque(context).release()
            return nil
        }
        pthread_detach(thread)
        return connection
    }

    /// Whether libcurl would send this scheme's requests through a proxy from the environment
    /// (no other proxy setting exists here). It then asks for the proxy's address, which would
    /// never match, so the connection would only be wasted. Any such variable counts, even
    /// where `no_proxy` exempts the endpoint: that only forgoes the gain.
    static func proxied(scheme: String) -> Bool {
        // libcurl reads http_proxy only in lower case (a CGI server sets HTTP_PROXY from a
        // request header), the others in either case.
        let names = scheme == "http" ? ["http_proxy", "all_proxy", "ALL_PROXY"]
            : ["\(scheme)_proxy", "\(scheme.uppercased())_PROXY", "all_proxy", "ALL_PROXY"]
        return names.contains { getenv($0).map { $0.pointee != 0 } ?? false }
    }

    private init(host: String, port: UInt16, timeoutMilliseconds: Int) {
        self.host = host
        self.port = port
        self.timeoutMilliseconds = max(1, timeoutMilliseconds)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        changed = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        pthread_cond_destroy(changed)
        changed.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The CURLOPT_RESOLVE entry for the first request, once resolution ended (waiting at most
    /// the connect timeout, which bounds libcurl's own resolution too), so that libcurl does not
    /// resolve the name again. "+": the entry expires like one libcurl resolved itself (libcurl
    /// 7.75 and later; CURLOPT_PROTOCOLS_STR, set for every handle, already needs 7.85). Nil for
    /// an address literal, a failed resolution (libcurl resolves and fails or succeeds itself)
    /// and "localhost", which libcurl answers without asking the resolver.
    func resolveEntryForCurl() -> String? {
        waitFor { resolved } ? locked { resolveEntry } : nil
    }

    /// The connected socket, for libcurl's connection to `address`, or nil: not that address,
    /// already taken or discarded, not connected (waiting for the connect at most its timeout:
    /// a connection under way is further along than a new one would be). A socket the server
    /// has closed or written to before any request is closed instead of handed over.
    func take(for address: UnsafePointer<curl_sockaddr>) -> Int32? {
        let asked = UnsafeRawPointer(address).advanced(by: MemoryLayout<curl_sockaddr>.offset(of: \.addr)!)
        guard address.pointee.socktype == SOCK_STREAM.rawValue,
              let wanted = Self.peerKey(asked.assumingMemoryBound(to: sockaddr.self), length: address.pointee.addrlen) else {
            return nil
        }
        _ = waitFor { connected }
        return locked { () -> Int32? in
            guard descriptor >= 0, peer == wanted else { return nil }
            let socket = descriptor
            descriptor = -1
            finished = true
            // Readable: data or an end (FIN); an error or reset is reported whatever is asked.
            var state = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&state, 1, 0) == 0 else {
                close(socket)
                return nil
            }
            return socket
        }
    }

    /// Ends the offer after the first request: an unused socket is closed (now, or by the
    /// connecting thread when it ends).
    func discard() {
        locked {
            finished = true
            if descriptor >= 0 {
                close(descriptor)
                descriptor = -1
            }
        }
    }

    // MARK: - The connecting thread

    private func connect() {
        let deadline = MonotonicClock()
        let (addresses, entry) = resolve()
        locked {
            resolveEntry = entry
            resolved = true
            pthread_cond_broadcast(changed)
        }
        // The first address is the one libcurl tries first: it gets the same list, in the same
        // order (CURLOPT_RESOLVE, or the same resolver call for "localhost" and literals).
        var socket: Int32 = -1
        var key: [UInt8] = []
        if let first = addresses.first, let peerKey = first.withSockaddr({ Self.peerKey($0, length: first.length) }) {
            socket = Self.connectedSocket(to: first, timeoutMilliseconds: timeoutMilliseconds - deadline.elapsedMilliseconds)
            key = peerKey
        }
        locked {
            if finished, socket >= 0 {
                close(socket)
            } else {
                descriptor = socket
                peer = key
            }
            connected = true
            pthread_cond_broadcast(changed)
        }
    }

    private struct Address {
        var storage = sockaddr_storage()
        var length: socklen_t = 0

        init() {}

        init<Peer>(copying peer: Peer) {
            withUnsafeMutableBytes(of: &storage) { target in withUnsafeBytes(of: peer) { target.copyMemory(from: $0) } }
            length = socklen_t(MemoryLayout<Peer>.size)
        }

        func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>) -> Result) -> Result {
            withUnsafePointer(to: storage) { body(UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self)) }
        }
    }

    /// The addresses libcurl would connect to, in its order, and the CURLOPT_RESOLVE entry that
    /// gives it exactly these. libcurl asks getaddrinfo for TCP with AF_UNSPEC where this
    /// machine can make IPv6 sockets, else AF_INET only: the same question here.
    private func resolve() -> ([Address], String?) {
        let literal = Self.literal(host, port: port)
        if let literal { return ([literal], nil) }
        var hints = addrinfo()
        let probe = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if probe >= 0 { close(probe) }
        hints.ai_family = probe >= 0 ? AF_UNSPEC : AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0 else { return ([], nil) }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var texts: [String] = []
        var next = list
        while let entry = next {
            next = entry.pointee.ai_next
            guard let source = entry.pointee.ai_addr, Int(entry.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size,
                  let text = Self.numericHost(source, length: entry.pointee.ai_addrlen) else { continue }
            var address = Address()
            withUnsafeMutableBytes(of: &address.storage) {
                $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: Int(entry.pointee.ai_addrlen)))
            }
            address.length = entry.pointee.ai_addrlen
            addresses.append(address)
            texts.append(source.pointee.sa_family == sa_family_t(AF_INET6) ? "[\(text)]" : text)
        }
        let isLocalhost = host.lowercased() == "localhost" || host.lowercased().hasSuffix(".localhost")
        guard !texts.isEmpty, !isLocalhost else { return (addresses, nil) }
        return (addresses, "+\(host):\(port):" + texts.joined(separator: ","))
    }

    /// A socket whose non-blocking connect to `address` completed within the timeout, or -1.
    private static func connectedSocket(to address: Address, timeoutMilliseconds: Int) -> Int32 {
        guard timeoutMilliseconds > 0 else { return -1 }
        // Close-on-exec: a prefetch worker spawned later must not inherit it.
        let socket = Glibc.socket(Int32(address.storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                  | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return -1 }
        let started = address.withSockaddr { Glibc.connect(socket, $0, address.length) }
        // Only "in progress" leaves a socket libcurl's own connect() completes (see the type).
        guard started == -1, errno == EINPROGRESS else {
            close(socket)
            return -1
        }
        var state = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
        var result: Int32
        repeat {
            result = poll(&state, 1, Int32(clamping: timeoutMilliseconds))
        } while result < 0 && errno == EINTR
        var failure: Int32 = 0
        var failureLength = socklen_t(MemoryLayout<Int32>.size)
        guard result == 1, getsockopt(socket, SOL_SOCKET, SO_ERROR, &failure, &failureLength) == 0, failure == 0 else {
            close(socket)
            return -1
        }
        return socket
    }

    /// An IPv4 or IPv6 literal (no resolution), or nil for a name.
    private static func literal(_ host: String, port: UInt16) -> Address? {
        var ipv4 = sockaddr_in()
        if inet_pton(AF_INET, host, &ipv4.sin_addr) == 1 {
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = port.bigEndian
            return Address(copying: ipv4)
        }
        var ipv6 = sockaddr_in6()
        guard inet_pton(AF_INET6, host, &ipv6.sin6_addr) == 1 else { return nil }
        ipv6.sin6_family = sa_family_t(AF_INET6)
        ipv6.sin6_port = port.bigEndian
        return Address(copying: ipv6)
    }

    /// Family, port and address (and IPv6 scope): what makes two socket addresses the same
    /// peer, whatever else the structures hold (padding, flow information).
    private static func peerKey(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> [UInt8]? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET where Int(length) >= MemoryLayout<sockaddr_in>.size:
            let ipv4 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            return [4] + withUnsafeBytes(of: ipv4.sin_port) { Array($0) } + withUnsafeBytes(of: ipv4.sin_addr) { Array($0) }
        case AF_INET6 where Int(length) >= MemoryLayout<sockaddr_in6>.size:
            let ipv6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            return [6] + withUnsafeBytes(of: ipv6.sin6_port) { Array($0) } + withUnsafeBytes(of: ipv6.sin6_addr) { Array($0) }
                + withUnsafeBytes(of: ipv6.sin6_scope_id) { Array($0) }
        default:
            return nil
        }
    }

    private static func numericHost(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> String? {
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A scoped (link-local) address cannot be written into a CURLOPT_RESOLVE entry.
        return host.contains("%") ? nil : host
    }

    // MARK: - Waiting

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Waits until `condition` holds, at most the connect timeout; whether it holds.
    private func waitFor(_ condition: () -> Bool) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += timeoutMilliseconds / 1_000
        deadline.tv_nsec += (timeoutMilliseconds % 1_000) * 1_000_000
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        return locked {
            while !condition() {
                if pthread_cond_timedwait(changed, mutex, &deadline) == ETIMEDOUT { return condition() }
            }
            return true
        }
    }
}
