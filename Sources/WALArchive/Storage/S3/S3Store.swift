import CZlib

/// `ObjectStore` over the S3 REST API (AWS or any S3-compatible server), signed with SigV4,
/// spoken through libcurl. Not thread-safe: one store per thread.
public final class S3Store: ObjectStore {
    public let location: String

    private let settings: S3Settings
    private let endpoint: Endpoint
    private let signer: SigV4Signer
    private let client: CurlClient
    private let retryPolicy: RetryPolicy
    private var clock: ServerClock
    /// Keys asked for per ListObjectsV2 request (S3's maximum); smaller in tests of paging.
    var listPageSize = 1000
    /// Keys per DeleteObjects request (S3's maximum); smaller in tests of batching.
    var deleteBatchSize = 1000
    /// HTTP exchanges attempted so far, retries included (more than the requests made: retries).
    public private(set) var attempts = 0

    /// `connectsEarly`: connect to the endpoint at once, on a second thread, for the first
    /// request (EarlyConnection); only for a store that will certainly make a request.
    public convenience init(settings: S3Settings, connectsEarly: Bool = false) throws(StorageError) {
        try self.init(settings: settings, localClock: UTCTime.now, connectsEarly: connectsEarly)
    }

    /// `localClock`: this machine's time (tests give a wrong one).
    init(settings: S3Settings, localClock: @escaping () -> UTCTime, connectsEarly: Bool = false) throws(StorageError) {
        self.settings = settings
        clock = ServerClock(localNow: localClock)
        endpoint = try Endpoint(settings: settings)
        // Started before libcurl is loaded (by the first CurlClient of the process), so that
        // the connect's round trip overlaps the loading too.
        var early: EarlyConnection?
        if connectsEarly, let (host, port) = endpoint.hostAndPort() {
            early = EarlyConnection.start(scheme: endpoint.scheme, host: host, port: port,
                                          timeoutMilliseconds: settings.connectTimeoutSeconds * 1_000)
        }
        let provider = CredentialsProviders.provider(
            for: settings.credentials,
            context: .init(region: settings.region, caBundlePath: settings.caBundlePath,
                           cacheDirectory: settings.credentialsCacheDirectory))
        signer = SigV4Signer(provider: provider, region: settings.region)
        client = try CurlClient(lowSpeedTimeoutSeconds: settings.lowSpeedTimeoutSeconds, caBundlePath: settings.caBundlePath)
        client.earlyConnection = early
        retryPolicy = RetryPolicy(maxAttempts: settings.maxAttempts, budgetSeconds: settings.retryBudgetSeconds)
        location = "s3://\(settings.bucket) at \(endpoint.scheme)://\(endpoint.authority)"
    }

    /// What the server's time taught (0 until a refusal showed skew).
    var serverClockOffsetSeconds: Int64 { clock.offsetSeconds }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        var headers: [(name: String, value: String)] = [("content-length", String(request.length))]
        if request.ifAbsent { headers.append(("if-none-match", "*")) }
        if let storageClass = request.storageClass { headers.append(("x-amz-storage-class", storageClass)) }
        headers += settings.serverSideEncryption?.uploadHeaders ?? []
        for (name, value) in request.metadata.sorted(by: { $0.key < $1.key }) {
            guard !(name + value).contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw .rejected(status: 0, code: "InvalidMetadata",
                                message: "metadata \(name) contains a line break", requestID: "")
            }
            headers.append(("x-amz-meta-" + name.lowercased(), value))
        }
        let payloadHash = settings.unsignedPayload ? SigV4Signer.unsignedPayload : request.sha256Hex
        let response = try exchange(.put, key: request.key, headers: headers, payloadHash: payloadHash,
                                    upload: request.body)
        switch response.head.status {
        case 200..<300: return .stored
        case 412 where request.ifAbsent: return .alreadyExists
        default:
            if let storageClass = request.storageClass, let refused = Self.storageClassRefused(storageClass, response) {
                throw refused
            }
            throw failure(response, key: request.key)
        }
    }

    @discardableResult
    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo {
        var info = ObjectInfo(key: key, size: 0)
        let damage = DamagedBodyEvidence()
        let stream = CurlClient.BodyStream(
            begin: { head throws(StorageError) in
                info = Self.objectInfo(key: key, head: head)
                damage.beginAttempt()
                try sink.begin(info)
            },
            write: { bytes throws(StorageError) in try damage.deliver(bytes, to: sink) },
            end: { () throws(StorageError) in try damage.end(sink) })
        let response = try exchange(.get, key: key, headers: settings.serverSideEncryption?.readHeaders ?? [], stream: stream,
                                    damage: damage)
        guard (200..<300).contains(response.head.status) else { throw failure(response, key: key) }
        return info
    }

    public func head(key: String) throws(StorageError) -> ObjectInfo? {
        let response = try exchange(.head, key: key, headers: settings.serverSideEncryption?.readHeaders ?? [])
        switch response.head.status {
        case 200..<300: return Self.objectInfo(key: key, head: response.head)
        case 404: return nil
        default: throw failure(response, key: key)
        }
    }

    public func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        let pages = try listPages(prefix: prefix, delimiter: delimiter, startAfter: startAfter, limit: limit)
        return ObjectListing(keys: pages.flatMap(\.keys), commonPrefixes: pages.flatMap(\.commonPrefixes))
    }

    public func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject] {
        try listPages(prefix: prefix, delimiter: nil, startAfter: startAfter, limit: limit).flatMap(\.objects)
    }

    /// ListObjectsV2 pages until `limit` entries (keys and common prefixes) or the end.
    private func listPages(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> [ListObjectsPage] {
        var pages: [ListObjectsPage] = []
        var count = 0
        var continuationToken: String?
        var resumeAfter = startAfter
        while count < limit {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix),
                ("max-keys", String(min(listPageSize, limit - count)))]
            if let delimiter { query.append(("delimiter", delimiter)) }
            if let continuationToken {
                query.append(("continuation-token", continuationToken))
            } else if let resumeAfter {
                query.append(("start-after", resumeAfter))
            }
            let response = try exchange(.get, bucketQuery: query)
            guard (200..<300).contains(response.head.status) else { throw failure(response, key: prefix) }
            let page = try ListObjectsPage(xml: response.body)
            pages.append(page)
            count += page.keys.count + page.commonPrefixes.count
            guard page.isTruncated else { break }
            if let token = page.nextContinuationToken {
                continuationToken = token
                continue
            }
            guard let next = Self.resumePoint(after: page), next != resumeAfter else {
                throw .invalidResponse(detail: "a truncated listing of \(prefix) that does not advance")
            }
            resumeAfter = next
        }
        return pages
    }

    /// Where to continue a truncated page that came without a continuation token (seen from
    /// some S3-compatible servers): after its last entry. After a common prefix nothing under
    /// it may come back, hence the prefix followed by the highest Unicode scalar.
    static func resumePoint(after page: ListObjectsPage) -> String? {
        let lastKey = page.keys.last ?? ""
        let lastPrefix = page.commonPrefixes.last.map { $0 + "\u{10FFFF}" } ?? ""
        let next = Array(lastKey.utf8).lexicographicallyPrecedes(Array(lastPrefix.utf8)) ? lastPrefix : lastKey
        return next.isEmpty ? nil : next
    }

    public func delete(key: String) throws(StorageError) {
        let response = try exchange(.delete, key: key)
        guard (200..<300).contains(response.head.status) || response.head.status == 404 else {
            throw failure(response, key: key)
        }
    }

    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(keys.count, start + deleteBatchSize)])
            start += batch.count
            let body = DeleteObjectsResult.request(keys: batch)
            // S3 requires Content-MD5 (or a newer checksum header) on DeleteObjects.
            let headers: [(name: String, value: String)] = [("content-length", String(body.count)),
                                                            ("content-md5", ContentMD5.header(for: body)),
                                                            ("content-type", "application/xml")]
            let payloadHash = settings.unsignedPayload ? SigV4Signer.unsignedPayload : SHA256Hasher.hash(body).hexString
            let response = try exchange(.post, bucketQuery: [("delete", "")], headers: headers, payloadHash: payloadHash,
                                        upload: MemoryUploadBody(body))
            guard (200..<300).contains(response.head.status) else { throw failure(response, key: batch[0]) }
            failures += try DeleteObjectsResult(xml: response.body).failures
        }
        return failures
    }

    // MARK: - One signed request, retried

    /// Sends one request, and again after transient failures (network, timeouts, 5xx,
    /// throttling, a body damaged on the way) until it succeeds, gets a final answer, or the
    /// retry policy's budget is spent. Each attempt's whole exchange has a deadline of what is
    /// left of the budget, so a stalled or trickling server cannot hold a call past it.
    private func exchange(_ method: CurlClient.Method, key: String? = nil, bucketQuery: [(name: String, value: String)] = [],
                          headers: [(name: String, value: String)] = [], payloadHash: String = SigV4Signer.emptyPayloadHash,
                          upload: (any UploadBody)? = nil,
                          stream: CurlClient.BodyStream? = nil,
                          damage: DamagedBodyEvidence? = nil) throws(StorageError) -> CurlClient.Response {
        let elapsed = MonotonicClock()
        let target = endpoint.target(key: key)
        var attempt = 0
        var clockCorrected = false
        var renewedCredentials = false
        while true {
            attempt += 1
            attempts += 1
            let timeout = retryPolicy.attemptTimeoutMilliseconds(elapsedMilliseconds: elapsed.elapsedMilliseconds)
            let connectTimeout = min(settings.connectTimeoutSeconds * 1_000, timeout)
            let signedAt = clock.now()
            let signature = try signer.sign(
                SigV4Signer.Request(method: method.rawValue, path: target.path, query: bucketQuery,
                                    headers: [("host", target.host)] + headers, payloadHash: payloadHash),
                at: signedAt)
            let url = "\(endpoint.scheme)://\(target.host)\(signature.encodedPath)"
                + (signature.encodedQuery.isEmpty ? "" : "?" + signature.encodedQuery)
            let request = CurlClient.Request(method: method, url: url,
                                             headers: [("Host", target.host)] + headers + signature.addedHeaders,
                                             upload: upload, connectTimeoutMilliseconds: connectTimeout,
                                             timeoutMilliseconds: timeout)
            let problem: String
            do {
                let response = try client.perform(request, stream: stream)
                // Refused for this machine's clock: sign again with the server's time, at once
                // and once (a refusal only ever streams nothing to the sink). Not an attempt.
                if !clockCorrected, clock.learn(from: response, signedAt: signedAt) {
                    clockCorrected = true
                    attempt -= 1
                    continue
                }
                // Temporary keys revoked or expired before the time they gave: fetch new ones
                // once (a cached copy may outlive a role's session being revoked).
                if !renewedCredentials, Self.mayBeExpiredToken(response, method: method),
                   !(signer.provider is StaticCredentialsProvider) {
                    renewedCredentials = true
                    signer.provider.invalidate()
                    attempt -= 1
                    continue
                }
                guard let reason = Self.transientReason(response, upload: upload, payloadHash: payloadHash) else {
                    return response
                }
                problem = reason
            } catch {
                switch error {
                case .stopped(let storageError):
                    guard case .sinkFailed(let detail) = storageError, let damage else { throw storageError }
                    // Damaged on the way or damaged in the store: download again, and call it
                    // the object's own fault only when the very same bytes fail again.
                    if damage.failedBefore() { throw storageError }
                    problem = "the body arrived damaged (\(detail))"
                case .transport(let detail, let transient):
                    guard transient else {
                        throw .unavailable(detail: "\(method.rawValue) \(location): \(detail)")
                    }
                    problem = detail
                }
            }
            guard let delay = retryPolicy.delayBeforeRetry(after: attempt, elapsedMilliseconds: elapsed.elapsedMilliseconds) else {
                throw .unavailable(detail: "\(method.rawValue) \(location) failed \(attempt) time(s) in "
                                   + "\(elapsed.elapsedMilliseconds / 1_000) s; last: \(problem)")
            }
            MonotonicClock.sleep(milliseconds: delay)
        }
    }

    /// The S3 error code of a PUT refused because its body did not match the signed SHA-256
    /// (or Content-MD5), nil for any other answer.
    private static func damagedUploadCode(_ response: CurlClient.Response) -> String? {
        guard response.head.status == 400 else { return nil }
        let code = S3ErrorBody(xml: response.body).code
        return ["XAmzContentSHA256Mismatch", "BadDigest", "IncompleteBody"].contains(code) ? code : nil
    }

    /// S3 says so in the error body; a HEAD's answer has none, so its 400 or 403 may mean it too.
    private static func mayBeExpiredToken(_ response: CurlClient.Response, method: CurlClient.Method) -> Bool {
        guard response.head.status == 400 || response.head.status == 403 else { return false }
        if method == .head && response.body.isEmpty { return true }
        return ["ExpiredToken", "TokenRefreshRequired"].contains(S3ErrorBody(xml: response.body).code)
    }

    /// Throttling, server trouble and S3's own "try again" codes; nil when the answer is final.
    /// A PUT refused because its body differs from its signed SHA-256 was damaged on the way,
    /// unless what we send really is not what we hashed (then no retry helps).
    private static func transientReason(_ response: CurlClient.Response, upload: (any UploadBody)?,
                                        payloadHash: String) -> String? {
        if let upload, let code = damagedUploadCode(response), upload.sha256Hex() == payloadHash {
            return "the body arrived damaged (HTTP \(response.head.status) \(code))"
        }
        let status = response.head.status
        if status == 429 || ((500...599).contains(status) && status != 501) {
            let body = S3ErrorBody(xml: response.body)
            return "HTTP \(status) \(body.code)".trimmingTrailingSpace
        }
        if status == 400 {
            let body = S3ErrorBody(xml: response.body)
            if ["RequestTimeout", "SlowDown"].contains(body.code) { return "HTTP 400 \(body.code)" }
        }
        return nil
    }

    private func failure(_ response: CurlClient.Response, key: String) -> StorageError {
        let status = response.head.status
        let body = S3ErrorBody(xml: response.body)
        let requestID = Self.requestID(response, body)
        if let wrongRegion = wrongRegion(response, body) { return wrongRegion }
        switch status {
        case 404 where body.code == "NoSuchKey":
            return .notFound(key: key)
        case 401, 403:
            let code = body.code.isEmpty ? "AccessDenied" : body.code
            var detail = "\(location): HTTP \(status) \(code)"
            if !body.message.isEmpty { detail += ": " + body.message }
            if ServerClock.skewCodes.contains(code) {
                detail += ": the server refuses this machine's clock"
                    + (clock.offsetSeconds == 0 ? "" : ", \(abs(clock.offsetSeconds)) s "
                       + (clock.offsetSeconds > 0 ? "behind" : "ahead of") + " its own")
                    + "; set the clock right (NTP)"
            }
            if !requestID.isEmpty { detail += " (request id \(requestID))" }
            return .accessDenied(detail: detail)
        case 429, 500, 502...599:
            return .unavailable(detail: "\(location): HTTP \(status) \(body.code)")
        default:
            return .rejected(status: status, code: body.code.isEmpty ? "HTTP\(status)" : body.code,
                             message: body.message, requestID: requestID)
        }
    }

    /// The body's request id, else the header's (HEAD answers have no body); empty when neither.
    private static func requestID(_ response: CurlClient.Response, _ body: S3ErrorBody) -> String {
        body.requestID.isEmpty ? (response.head.headers["x-amz-request-id"] ?? "") : body.requestID
    }

    /// An upload with a storage class the server does not offer: AWS (and moto) answer 400
    /// InvalidStorageClass; Ceph RGW 400 InvalidArgument with an empty message, for any class its
    /// placement does not define (RGW 16.2: STANDARD_IA). A final answer naming the setting:
    /// every retry would be refused the same way.
    private static func storageClassRefused(_ storageClass: String, _ response: CurlClient.Response) -> StorageError? {
        let body = S3ErrorBody(xml: response.body)
        guard response.head.status == 400, ["InvalidStorageClass", "InvalidArgument"].contains(body.code) else { return nil }
        let refusal = body.code == "InvalidStorageClass" ? "does not offer" : "refused the upload with"
        return .rejected(status: 400, code: body.code,
                         message: "the server \(refusal) storage class \(storageClass)"
                            + (body.message.isEmpty ? "" : " (\(body.message))")
                            + "; set \(S3Settings.storageClassSettingHint) to a class it offers, or remove it",
                         requestID: requestID(response, body))
    }

    /// A bucket in another region than the configured one. S3 answers 301 PermanentRedirect
    /// with `x-amz-bucket-region` (a HEAD too, without a body), or 400 AuthorizationHeaderMalformed
    /// with `<Region>`; Ceph RGW answers 301 without a body and without the header for a bucket of
    /// another zonegroup, so the region is asked for with GetBucketLocation, which S3 and RGW
    /// answer from any region. Final: the redirect is never followed (the request would have to
    /// be signed for the other region) and retrying cannot help.
    private func wrongRegion(_ response: CurlClient.Response, _ body: S3ErrorBody) -> StorageError? {
        let status = response.head.status
        let redirected = status == 301 || body.code == "PermanentRedirect"
        let regionRefused = status == 400 && body.code == "AuthorizationHeaderMalformed" && !body.region.isEmpty
        guard redirected || regionRefused else { return nil }
        var region = response.head.headers["x-amz-bucket-region"] ?? body.region
        if region.isEmpty { region = bucketLocation() ?? "" }
        var message = region.isEmpty || region == settings.region
            ? "bucket \(settings.bucket) is not in region \(settings.region); set \(S3Settings.regionSettingHint) to its region"
            : "bucket \(settings.bucket) is in region \(region), not \(settings.region); "
                + "set \(S3Settings.regionSettingHint) to \(region)"
        let pointedTo = body.endpoint.isEmpty ? Self.authority(ofURL: response.head.headers["location"] ?? "") : body.endpoint
        if settings.endpoint != nil, !pointedTo.isEmpty {
            message += " and the endpoint to that region's (the server points to \(pointedTo))"
        }
        let code = body.code.isEmpty ? (redirected ? "PermanentRedirect" : "HTTP\(status)") : body.code
        return .rejected(status: status, code: code, message: message, requestID: Self.requestID(response, body))
    }

    /// GetBucketLocation: the bucket's region, or nil when it cannot be had. An empty
    /// LocationConstraint is us-east-1, S3's first region; `EU` is eu-west-1's old name.
    private func bucketLocation() -> String? {
        guard let response = try? exchange(.get, bucketQuery: [("location", "")]),
              (200..<300).contains(response.head.status),
              let leaves = try? XMLLeaves.parse(response.body),
              let constraint = leaves.first(where: { $0.path == "LocationConstraint" }) else { return nil }
        switch constraint.text {
        case "": return "us-east-1"
        case "EU": return "eu-west-1"
        default: return constraint.text
        }
    }

    /// `host:port` of an absolute URL (a redirect's `Location`); empty for anything else.
    private static func authority(ofURL url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "" }
        return String(url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" })
    }

    private static func objectInfo(key: String, head: CurlClient.ResponseHead) -> ObjectInfo {
        var metadata: [String: String] = [:]
        for (name, value) in head.headers where name.hasPrefix("x-amz-meta-") {
            metadata[String(name.dropFirst("x-amz-meta-".count))] = value
        }
        return ObjectInfo(key: key, size: Int64(head.headers["content-length"] ?? "") ?? 0,
                          metadata: metadata, etag: head.headers["etag"])
    }
}

/// Where requests go: scheme and authority from the settings, the bucket in the host name
/// (virtual-hosted style) or as the first path segment (path style).
private struct Endpoint {
    var scheme: String
    var authority: String
    var basePath: String
    var bucket: String
    var pathStyle: Bool

    init(settings: S3Settings) throws(StorageError) {
        let url = settings.endpoint ?? S3Settings.awsEndpoint(region: settings.region)
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw .rejected(status: 0, code: "InvalidEndpoint", message: "endpoint \(url) has no scheme", requestID: "")
        }
        scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            throw .rejected(status: 0, code: "InvalidEndpoint", message: "endpoint \(url) is not http(s)", requestID: "")
        }
        let rest = url[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        authority = String(rest[..<slash])
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        guard !authority.isEmpty, !authority.contains("@") else {
            throw .rejected(status: 0, code: "InvalidEndpoint", message: "endpoint \(url) has no usable host", requestID: "")
        }
        bucket = settings.bucket
        pathStyle = settings.pathStyle
    }

    /// Host header and unencoded path for an object key (nil: the bucket itself).
    func target(key: String?) -> (host: String, path: String) {
        let objectPath = key.map { "/" + $0 } ?? "/"
        if pathStyle {
            return (authority, basePath + "/" + bucket + (key.map { "/" + $0 } ?? ""))
        }
        return (bucket + "." + authority, basePath + objectPath)
    }

    /// The host libcurl connects to for every request (an IPv6 literal without brackets) and
    /// its port, or nil when the authority is not plainly host[:port].
    func hostAndPort() -> (host: String, port: UInt16)? {
        let authority = target(key: nil).host
        let defaultPort: UInt16 = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            return (host, port)
        }
        guard let colon = authority.lastIndex(of: ":") else { return authority.isEmpty ? nil : (authority, defaultPort) }
        guard let port = UInt16(authority[authority.index(after: colon)...]), colon > authority.startIndex else { return nil }
        return (String(authority[..<colon]), port)
    }
}

private extension String {
    var trimmingTrailingSpace: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}

/// Tells a body damaged on the way from an object that is damaged in the store, without
/// costing anything while downloads succeed. After a download fails verification, the next
/// ones are received in full whatever the sink says (its failure is kept and reported at the
/// end), with a CRC-32 of the raw bytes: two such downloads with the same bytes that fail
/// again mean the stored object itself is bad. Damage on the way changes the bytes (the odds
/// that two random corruptions leave equal CRC-32 and length are about 2^-32).
final class DamagedBodyEvidence {
    private var diagnosing = false
    private var checksum: UInt = 0
    private var length: Int64 = 0
    private var sinkFailure: StorageError?
    private var previous: (checksum: UInt, length: Int64)?

    func beginAttempt() {
        checksum = crc32(0, nil, 0)
        length = 0
        sinkFailure = nil
    }

    func deliver(_ bytes: UnsafeRawBufferPointer, to sink: any ObjectSink) throws(StorageError) {
        guard diagnosing else { return try sink.write(bytes) }
        if let base = bytes.baseAddress, !bytes.isEmpty {
            checksum = crc32(checksum, base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count))
            length += Int64(bytes.count)
        }
        guard sinkFailure == nil else { return }
        do {
            try sink.write(bytes)
        } catch {
            guard case .sinkFailed = error else { throw error }
            sinkFailure = error
        }
    }

    func end(_ sink: any ObjectSink) throws(StorageError) {
        if let sinkFailure { throw sinkFailure }
        try sink.end()
    }

    /// Called after an attempt failed verification; true when the bytes of the previous
    /// diagnosed attempt, which failed too, were the same.
    func failedBefore() -> Bool {
        guard diagnosing else {
            diagnosing = true
            return false
        }
        defer { previous = (checksum, length) }
        guard let previous else { return false }
        return previous.checksum == checksum && previous.length == length
    }
}
