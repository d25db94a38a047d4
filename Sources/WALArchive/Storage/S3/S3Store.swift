/// `ObjectStore` over the S3 REST API (AWS or any S3-compatible server), signed with SigV4,
/// spoken through libcurl. Not thread-safe: one store per thread.
public final class S3Store: ObjectStore {
    public let location: String

    private let settings: S3Settings
    private let endpoint: Endpoint
    private let signer: SigV4Signer
    private let client: CurlClient
    private let retryPolicy: RetryPolicy
    /// Keys asked for per ListObjectsV2 request (S3's maximum); smaller in tests of paging.
    var listPageSize = 1000
    /// Keys per DeleteObjects request (S3's maximum); smaller in tests of batching.
    var deleteBatchSize = 1000
    /// HTTP exchanges attempted so far, retries included (more than the requests made: retries).
    public private(set) var attempts = 0

    public init(settings: S3Settings) throws(StorageError) {
        self.settings = settings
        endpoint = try Endpoint(settings: settings)
        signer = SigV4Signer(credentials: settings.credentials, region: settings.region)
        client = try CurlClient(lowSpeedTimeoutSeconds: settings.lowSpeedTimeoutSeconds, caBundlePath: settings.caBundlePath)
        retryPolicy = RetryPolicy(maxAttempts: settings.maxAttempts, budgetSeconds: settings.retryBudgetSeconds)
        location = "s3://\(settings.bucket) at \(endpoint.scheme)://\(endpoint.authority)"
    }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        var headers: [(name: String, value: String)] = [("content-length", String(request.length))]
        if request.ifAbsent { headers.append(("if-none-match", "*")) }
        if let storageClass = request.storageClass { headers.append(("x-amz-storage-class", storageClass)) }
        for (name, value) in request.metadata.sorted(by: { $0.key < $1.key }) {
            guard !(name + value).contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw .rejected(status: 0, code: "InvalidMetadata",
                                message: "metadata \(name) contains a line break", requestID: "")
            }
            headers.append(("x-amz-meta-" + name.lowercased(), value))
        }
        let payloadHash = settings.unsignedPayload ? SigV4Signer.unsignedPayload : request.sha256Hex
        let response = try exchange(.put, key: request.key, headers: headers, payloadHash: payloadHash,
                                    upload: (request.fileDescriptor, request.length))
        switch response.head.status {
        case 200..<300: return .stored
        case 412 where request.ifAbsent: return .alreadyExists
        default: throw failure(response, key: request.key)
        }
    }

    @discardableResult
    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo {
        var info = ObjectInfo(key: key, size: 0)
        let stream = CurlClient.BodyStream(
            begin: { head throws(StorageError) in
                info = Self.objectInfo(key: key, head: head)
                try sink.begin(info)
            },
            write: { bytes throws(StorageError) in try sink.write(bytes) })
        let response = try exchange(.get, key: key, stream: stream)
        guard (200..<300).contains(response.head.status) else { throw failure(response, key: key) }
        return info
    }

    public func head(key: String) throws(StorageError) -> ObjectInfo? {
        let response = try exchange(.head, key: key)
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
                                        body: body)
            guard (200..<300).contains(response.head.status) else { throw failure(response, key: batch[0]) }
            failures += try DeleteObjectsResult(xml: response.body).failures
        }
        return failures
    }

    // MARK: - One signed request, retried

    private func exchange(_ method: CurlClient.Method, key: String? = nil, bucketQuery: [(name: String, value: String)] = [],
                          headers: [(name: String, value: String)] = [], payloadHash: String = SigV4Signer.emptyPayloadHash,
                          upload: (fileDescriptor: Int32, length: Int64)? = nil, body: [UInt8]? = nil,
                          stream: CurlClient.BodyStream? = nil) throws(StorageError) -> CurlClient.Response {
        let clock = MonotonicClock()
        let target = endpoint.target(key: key)
        var attempt = 0
        while true {
            attempt += 1
            attempts += 1
            let remaining = retryPolicy.remainingMilliseconds(elapsedMilliseconds: clock.elapsedMilliseconds)
            let connectTimeout = max(1_000, min(settings.connectTimeoutSeconds * 1_000, remaining))
            let signature = signer.sign(
                SigV4Signer.Request(method: method.rawValue, path: target.path, query: bucketQuery,
                                    headers: [("host", target.host)] + headers, payloadHash: payloadHash),
                at: UTCTime.now())
            let url = "\(endpoint.scheme)://\(target.host)\(signature.encodedPath)"
                + (signature.encodedQuery.isEmpty ? "" : "?" + signature.encodedQuery)
            let request = CurlClient.Request(method: method, url: url,
                                             headers: [("Host", target.host)] + headers + signature.addedHeaders,
                                             upload: upload, connectTimeoutMilliseconds: connectTimeout, body: body)
            let problem: String
            do {
                let response = try client.perform(request, stream: stream)
                guard let reason = Self.transientReason(response) else { return response }
                problem = reason
            } catch {
                switch error {
                case .stopped(let storageError): throw storageError
                case .transport(let detail, let transient):
                    guard transient else {
                        throw .unavailable(detail: "\(method.rawValue) \(location): \(detail)")
                    }
                    problem = detail
                }
            }
            guard let delay = retryPolicy.delayBeforeRetry(after: attempt, elapsedMilliseconds: clock.elapsedMilliseconds) else {
                throw .unavailable(detail: "\(method.rawValue) \(location) failed \(attempt) time(s) in "
                                   + "\(clock.elapsedMilliseconds / 1_000) s; last: \(problem)")
            }
            MonotonicClock.sleep(milliseconds: delay)
        }
    }

    /// Throttling, server trouble and S3's own "try again" codes; nil when the answer is final.
    private static func transientReason(_ response: CurlClient.Response) -> String? {
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
        let requestID = body.requestID.isEmpty ? (response.head.headers["x-amz-request-id"] ?? "") : body.requestID
        switch status {
        case 404 where body.code == "NoSuchKey":
            return .notFound(key: key)
        case 401, 403:
            let code = body.code.isEmpty ? "AccessDenied" : body.code
            let message = body.message.isEmpty ? "" : ": " + body.message
            return .accessDenied(detail: "\(location): HTTP \(status) \(code)\(message) (request id \(requestID))")
        case 429, 500, 502...599:
            return .unavailable(detail: "\(location): HTTP \(status) \(body.code)")
        default:
            return .rejected(status: status, code: body.code.isEmpty ? "HTTP\(status)" : body.code,
                             message: body.message, requestID: requestID)
        }
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
}

private extension String {
    var trimmingTrailingSpace: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
