import CCurl
import Glibc

/// libcurl's one wrapper: HTTP(S) requests over a single reusable easy handle, so the
/// connection (and TLS session) stays open between the requests of one process.
/// Not thread-safe: one client per thread.
final class CurlClient {
    enum Method: String {
        case get = "GET", head = "HEAD", put = "PUT", delete = "DELETE", post = "POST"
    }

    struct Request {
        var method: Method
        var url: String
        var headers: [(name: String, value: String)]
        /// PUT or POST body, read from offset 0; a retry or a curl-internal rewind starts over.
        var upload: (any UploadBody)?
        var connectTimeoutMilliseconds: Int
        /// The deadline of the whole exchange (CURLOPT_TIMEOUT_MS): a server that trickles a
        /// body faster than the low-speed limit is still abandoned when it passes.
        var timeoutMilliseconds: Int
    }

    struct ResponseHead {
        var status: Int
        /// Lower-cased names; repeated headers joined with ", ".
        var headers: [String: String]
    }

    struct Response {
        var head: ResponseHead
        /// The body when it was not streamed (errors, listings); capped, as these are small.
        var body: [UInt8]
    }

    /// Where a successful (2xx) response body goes instead of memory.
    struct BodyStream {
        var begin: (ResponseHead) throws(StorageError) -> Void
        var write: (UnsafeRawBufferPointer) throws(StorageError) -> Void
        /// After the last byte of a complete 2xx body; a throw fails the exchange like a
        /// refusal in `write` (`Failure.stopped`).
        var end: () throws(StorageError) -> Void = {}
    }

    enum Failure: Error {
        /// libcurl could not complete the exchange; `transient` when a later attempt may
        /// succeed (network, DNS, timeouts, broken transfers) rather than never (bad URL,
        /// untrusted certificate, unusable CA bundle or options).
        case transport(detail: String, transient: Bool)
        /// Our own callback stopped the transfer (local read failure, sink refused bytes).
        case stopped(StorageError)
    }

    static let collectedBodyLimit = 1 << 20

    private static let permanentFailures: [CURLcode] = [
        CURLE_UNSUPPORTED_PROTOCOL, CURLE_FAILED_INIT, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_OUT_OF_MEMORY,
        CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
        CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_PEER_FAILED_VERIFICATION, CURLE_USE_SSL_FAILED,
        CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
        CURLE_SSL_INVALIDCERTSTATUS,
    ]

    /// Bytes libcurl reads from the socket at once (its default is 16 KiB).
    static let receiveBufferBytes = 256 * 1024

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// Offered to the next exchange only (see EarlyConnection), then discarded.
    var earlyConnection: EarlyConnection?

    /// `bypassesProxy`: for link-local metadata endpoints, which a proxy from `http_proxy`
    /// cannot reach (and must not see the credentials they hand out).
    init(lowSpeedTimeoutSeconds: Int, caBundlePath: String?, bypassesProxy: Bool = false) throws(StorageError) {
        // The first client of the process loads libcurl (CCurl): calls that never reach S3
        // (a prefetched segment served, a push-ahead record, file:// archives) never pay for it.
        let loading = walarchive_curl_load()
        guard loading == WALARCHIVE_CURL_READY else {
            let problem = String(cString: walarchive_curl_problem())
            if loading == WALARCHIVE_CURL_MISSING {
                // Debian 12 and Ubuntu 22.04 name it libcurl4; Debian 13 and Ubuntu 24.04 libcurl4t64.
                throw .missingLibrary(library: WALARCHIVE_CURL_LIBRARY, package: "libcurl4 (libcurl4t64 on Debian 13, Ubuntu 24.04)",
                                      detail: problem)
            }
            throw .unavailable(detail: "libcurl could not be initialised: \(problem)")
        }
        guard let handle = walarchive_curl_easy_init() else {
            throw .unavailable(detail: "libcurl could not create a connection handle")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        var result = walarchive_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // CURLOPT_BUFFERSIZE: libcurl's default 16 KiB receive buffer costs a poll, a recvfrom
        // and a sink call per 16 KiB, about 460 system calls for a 3.4 MB segment body; a
        // larger buffer reads what the socket holds in one call.
        for (option, value) in [(CURLOPT_NOSIGNAL, 1), (CURLOPT_SSL_VERIFYPEER, 1), (CURLOPT_SSL_VERIFYHOST, 2),
                                (CURLOPT_TCP_KEEPALIVE, 1), (CURLOPT_FOLLOWLOCATION, 0),
                                (CURLOPT_BUFFERSIZE, Self.receiveBufferBytes),
                                (CURLOPT_LOW_SPEED_LIMIT, 1024), (CURLOPT_LOW_SPEED_TIME, lowSpeedTimeoutSeconds)] {
            result = result == CURLE_OK ? walarchive_curl_setopt_long(handle, option, value) : result
        }
        if result == CURLE_OK {
            result = walarchive_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        }
        if result == CURLE_OK, bypassesProxy {
            result = walarchive_curl_setopt_string(handle, CURLOPT_NOPROXY, "*")
        }
        if result == CURLE_OK, let caBundlePath {
            result = walarchive_curl_setopt_string(handle, CURLOPT_CAINFO, caBundlePath)
        }
        if result == CURLE_OK {
            result = Self.installCallbacks(handle)
        }
        guard result == CURLE_OK else {
            let detail = String(cString: walarchive_curl_easy_strerror(result))
            walarchive_curl_easy_cleanup(handle)
            errorBuffer.deallocate()
            throw .unavailable(detail: "libcurl refused its settings: \(detail)")
        }
    }

    deinit {
        walarchive_curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Performs one exchange. A 2xx body goes to `stream` when given (its `begin` runs
    /// before the first byte, and also for an empty body); any other body is collected.
    func perform(_ request: Request, stream: BodyStream? = nil) throws(Failure) -> Response {
        let transfer = Transfer(upload: request.upload, stream: stream)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { walarchive_curl_slist_free_all(headerList) }
        // "Expect:" stops curl from waiting up to a second for "100 Continue" before each PUT body.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = walarchive_curl_slist_append(headerList, line)
        }
        errorBuffer[0] = 0
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var result = walarchive_curl_setopt_string(handle, CURLOPT_URL, request.url)
        var settings: [(CURLoption, Int)] = [(CURLOPT_HTTPGET, 1),
                                              (CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMilliseconds),
                                              (CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)]
        switch request.method {
        case .get, .delete: break
        case .head: settings.append((CURLOPT_NOBODY, 1))
        case .put, .post: settings.append((CURLOPT_UPLOAD, 1))
        }
        for (option, value) in settings where result == CURLE_OK {
            result = walarchive_curl_setopt_long(handle, option, value)
        }
        if result == CURLE_OK {
            // An upload is a PUT unless the verb is replaced; DELETE has no option of its own.
            let verb: String? = request.method == .delete || request.method == .post ? request.method.rawValue : nil
            result = walarchive_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, verb)
        }
        if result == CURLE_OK, let length = request.upload?.length {
            result = walarchive_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
        }
        for option in [CURLOPT_WRITEDATA, CURLOPT_READDATA, CURLOPT_HEADERDATA, CURLOPT_SEEKDATA] where result == CURLE_OK {
            result = walarchive_curl_setopt_pointer(handle, option, context)
        }
        if result == CURLE_OK {
            result = walarchive_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        }
        let early = earlyConnection
        earlyConnection = nil
        var resolveList: UnsafeMutablePointer<curl_slist>?
        if result == CURLE_OK, let early {
            result = Self.offer(early, to: handle, resolveList: &resolveList)
        }
        if result == CURLE_OK {
            result = withExtendedLifetime((transfer, early)) { walarchive_curl_easy_perform(handle) }
        }
        if let early {
            // Later exchanges (retries included) open their sockets and resolve as libcurl
            // does by itself; an unused early socket is closed now. Resetting these options
            // cannot fail (null is their default).
            _ = walarchive_curl_setopt_opensocket_callback(handle, nil)
            _ = walarchive_curl_setopt_slist(handle, CURLOPT_RESOLVE, nil)
            walarchive_curl_slist_free_all(resolveList)
            early.discard()
        }
        if let stopped = transfer.stoppedBy {
            throw .stopped(stopped)
        }
        guard result == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: walarchive_curl_easy_strerror(result))
            throw .transport(detail: detail, transient: !Self.permanentFailures.contains(result))
        }
        let head = ResponseHead(status: transfer.status, headers: transfer.headers)
        if let stream, (200..<300).contains(head.status) {
            do {
                if !transfer.bodyStarted { try stream.begin(head) }
                try stream.end()
            } catch {
                throw .stopped(error)
            }
        }
        return Response(head: head, body: transfer.collected)
    }

    /// Lets the exchange use `early`'s socket: its addresses as libcurl's resolution of the
    /// host (libcurl copies the entry into its DNS cache when the transfer starts), and its
    /// socket when libcurl opens one to that very address; for any other socket the callback
    /// does what libcurl does without one, socket(family, type, protocol).
    private static func offer(_ early: EarlyConnection, to handle: UnsafeMutableRawPointer,
                              resolveList: inout UnsafeMutablePointer<curl_slist>?) -> CURLcode {
        var result = CURLE_OK
        if let entry = early.resolveEntryForCurl() {
            resolveList = walarchive_curl_slist_append(nil, entry)
            result = walarchive_curl_setopt_slist(handle, CURLOPT_RESOLVE, resolveList)
        }
        if result == CURLE_OK {
            result = walarchive_curl_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(early).toOpaque())
        }
        guard result == CURLE_OK else { return result }
        return walarchive_curl_setopt_opensocket_callback(handle) { context, purpose, address in
            guard let address else { return CURL_SOCKET_BAD }
            if let context, purpose == CURLSOCKTYPE_IPCXN,
               let socket = Unmanaged<EarlyConnection>.fromOpaque(context).takeUnretainedValue().take(for: address) {
                return socket
            }
            return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
        }
    }

    private static func installCallbacks(_ handle: UnsafeMutableRawPointer) -> CURLcode {
        var result = walarchive_curl_setopt_write_callback(handle) { data, size, count, context in
            guard let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        guard result == CURLE_OK else { return result }
        result = walarchive_curl_setopt_read_callback(handle) { buffer, size, count, context in
            guard let context, let buffer else { return Int(CURL_READFUNC_ABORT) }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            return transfer.send(into: UnsafeMutableRawPointer(buffer), capacity: size * count)
        }
        guard result == CURLE_OK else { return result }
        result = walarchive_curl_setopt_header_callback(handle) { data, size, count, context in
            guard let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        guard result == CURLE_OK else { return result }
        return walarchive_curl_setopt_seek_callback(handle) { context, offset, origin in
            guard let context, origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            transfer.uploadOffset = Int64(offset)
            return Int32(CURL_SEEKFUNC_OK)
        }
    }
}

/// State of one exchange, reached from libcurl's callbacks through an unmanaged pointer.
private final class Transfer {
    let upload: (any UploadBody)?
    let stream: CurlClient.BodyStream?
    var uploadOffset: Int64 = 0
    var status = 0
    var headers: [String: String] = [:]
    var collected: [UInt8] = []
    var bodyStarted = false
    var streaming = false
    var stoppedBy: StorageError?

    init(upload: (any UploadBody)?, stream: CurlClient.BodyStream?) {
        self.upload = upload
        self.stream = stream
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            if !bodyStarted {
                bodyStarted = true
                if let stream, (200..<300).contains(status) {
                    streaming = true
                    try stream.begin(CurlClient.ResponseHead(status: status, headers: headers))
                }
            }
            if streaming, let stream {
                try stream.write(bytes)
            } else if collected.count < CurlClient.collectedBodyLimit {
                collected.append(contentsOf: bytes.prefix(CurlClient.collectedBodyLimit - collected.count))
            }
            return true
        } catch {
            stoppedBy = error
            return false
        }
    }

    func send(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        guard let upload, capacity > 0 else { return 0 }
        do {
            let count = try upload.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity), at: uploadOffset)
            uploadOffset += Int64(count)
            return count
        } catch {
            stoppedBy = error
            return Int(CURL_READFUNC_ABORT)
        }
    }

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var line = String(decoding: bytes, as: UTF8.self)
        while let last = line.last, last.isNewline { line.removeLast() }
        if line.hasPrefix("HTTP/") {
            // A new response starts (after "100 Continue" or a proxy's answer).
            let fields = line.split(separator: " ", maxSplits: 2)
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
        headers[name] = headers[name].map { $0 + ", " + value } ?? value
    }
}
