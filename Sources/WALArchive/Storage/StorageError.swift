/// Every way a storage operation can fail, sorted by what the caller must do about it.
public enum StorageError: Error, Sendable, Equatable {
    /// The store answered that the object does not exist (S3 404 NoSuchKey).
    case notFound(key: String)
    /// A conditional write found an object already there.
    case alreadyExists(key: String)
    /// Credentials or permissions were refused (401/403); retrying will not help.
    case accessDenied(detail: String)
    /// The store could not be reached or kept failing (network, timeout, 5xx, throttling)
    /// until the retry budget ran out.
    case unavailable(detail: String)
    /// The store refused the request for another reason (other 4xx).
    case rejected(status: Int, code: String, message: String, requestID: String)
    /// The store's answer could not be understood.
    case invalidResponse(detail: String)
    /// Reading or writing a local file failed.
    case localIO(detail: String)
    /// The sink refused the bytes (e.g. a checksum or decompression failure).
    case sinkFailed(detail: String)
    /// A shared library the store needs could not be loaded (libcurl for S3, loaded on first
    /// use); `package` is the Debian package that installs it.
    case missingLibrary(library: String, package: String, detail: String)

    /// One line for a DBA: what went wrong, without secrets.
    public var message: String {
        switch self {
        case .notFound(let key): return "object \(key) does not exist"
        case .alreadyExists(let key): return "object \(key) already exists"
        case .accessDenied(let detail): return "access denied: \(detail)"
        case .unavailable(let detail): return "storage unavailable: \(detail)"
        case .rejected(let status, let code, let message, let requestID):
            // Servers leave parts empty (Ceph RGW: `<Message></Message>`; HEAD: no body): say
            // nothing rather than print an empty part. Status 0: refused before any HTTP
            // exchange (an unusable endpoint).
            return "storage refused the request:"
                + (status == 0 ? "" : " HTTP \(status)")
                + (code.isEmpty || code == "HTTP\(status)" ? "" : " " + code)
                + (message.isEmpty ? "" : ": " + message)
                + (requestID.isEmpty ? "" : " (request id \(requestID))")
        case .invalidResponse(let detail): return "unexpected answer from storage: \(detail)"
        case .localIO(let detail): return "local I/O failed: \(detail)"
        case .sinkFailed(let detail): return detail
        case .missingLibrary(let library, _, let detail): return "\(library) cannot be loaded (\(detail))"
        }
    }

    /// 501 Not Implemented / `NotImplemented`: the server ignores or refuses conditional writes
    /// (`If-None-Match: *`).
    public var isConditionalWriteUnsupported: Bool {
        guard case .rejected(let status, let code, _, _) = self else { return false }
        return status == 501 || code == "NotImplemented"
    }

}
