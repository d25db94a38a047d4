/// Which store, exactly, a configuration reaches: the backend with everything that decides what
/// a request sees (endpoint, bucket, region, the credentials' principal — the access key id of
/// static keys, the role of temporary ones, never a secret), and
/// the key prefix. Every local record kept between calls (push-ahead records, prefetched files,
/// locator hints, the cached archive identity) carries its `tag`, so state made for one store is
/// never trusted for another: change any of these and the old state simply stops matching.
public struct StoreIdentity: Sendable, Equatable, CustomStringConvertible {
    public enum Backend: Sendable, Equatable {
        case s3(endpoint: String, bucket: String, region: String, principal: String)
        case directory(root: String)
    }

    public let backend: Backend
    /// Key prefix inside the bucket or directory, without leading or trailing `/`.
    public let prefix: String

    public init(backend: Backend, prefix: String) {
        self.backend = backend
        self.prefix = prefix
    }

    public init(destination: StoreDestination, prefix: String) {
        switch destination {
        case .s3(let settings):
            self.init(backend: .s3(endpoint: settings.endpoint ?? S3Settings.awsEndpoint(region: settings.region),
                                   bucket: settings.bucket, region: settings.region,
                                   principal: settings.credentials.principal),
                      prefix: prefix)
        case .directory(let root):
            self.init(backend: .directory(root: root), prefix: prefix)
        }
    }

    /// `s3://bucket/prefix` or `file:///directory[/prefix]`: the archive as a user names it.
    public var url: String {
        let path = prefix.isEmpty ? "" : "/" + prefix
        switch backend {
        case .s3(_, let bucket, _, _): return "s3://" + bucket + path
        case .directory(let root): return "file://" + (root == "/" && !path.isEmpty ? "" : root) + path
        }
    }

    /// The URL of one key (given relative to the bucket or directory, as stores take keys).
    public func url(ofKey key: String) -> String {
        switch backend {
        case .s3(_, let bucket, _, _): return "s3://" + bucket + "/" + key
        case .directory(let root): return "file://" + (root == "/" ? "" : root) + "/" + key
        }
    }

    /// For messages: the URL, and for S3 the endpoint it is reached at.
    public var description: String {
        switch backend {
        case .s3(let endpoint, _, _, _): return url + " at " + endpoint
        case .directory: return url
        }
    }

    /// `url(ofKey:)` with the endpoint, for messages.
    public func describe(key: String) -> String {
        switch backend {
        case .s3(let endpoint, _, _, _): return url(ofKey: key) + " at " + endpoint
        case .directory: return url(ofKey: key)
        }
    }

    /// 16 hex digits of the SHA-256 of every field, one per line (no field holds a newline).
    /// Computed when needed: the first SHA-256 loads libcrypto's configuration.
    public var tag: String {
        let fields: [String]
        switch backend {
        case .s3(let endpoint, let bucket, let region, let principal):
            fields = ["s3", endpoint, bucket, region, principal, prefix]
        case .directory(let root):
            fields = ["directory", root, prefix]
        }
        return String(SHA256Hasher.hash(Array(fields.joined(separator: "\n").utf8)).hexString.prefix(16))
    }

    /// True where reading the archive identity is a network request worth keeping between
    /// calls (S3). A directory's identity is read on every call instead: it is a local read, and
    /// it is what tells a mounted share from the empty mount point left when it is not mounted.
    public var cachesArchiveIdentity: Bool {
        if case .s3 = backend { return true }
        return false
    }
}
