/// What the archive needs from a storage backend. S3 (`S3Store`) and a local or mounted
/// directory (`DirectoryStore`) implement it with the same key layout and the same errors.
public protocol ObjectStore: AnyObject {
    /// Where objects go, for messages and logs; never contains a secret.
    var location: String { get }

    /// Stores `request.body` under `request.key`. Returns only once the store has
    /// acknowledged the object.
    func put(_ request: PutRequest) throws(StorageError) -> PutOutcome

    /// Streams the object's bytes into `sink`. Throws `.notFound` only when the store says
    /// the object does not exist.
    @discardableResult
    func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo

    /// The object's size and metadata, or nil when it does not exist.
    func head(key: String) throws(StorageError) -> ObjectInfo?

    /// Keys (and, with a delimiter, common prefixes) under `prefix`, in key order,
    /// after `startAfter`, at most `limit` entries in all; pages are followed internally.
    func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing

    func delete(key: String) throws(StorageError)

    /// Every object under `prefix` (no delimiter), in key order, after `startAfter`, with its
    /// stored size and modification time; at most `limit` (one S3 request for up to 1000).
    func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject]

    /// Deletes `keys`, up to 1000 in one request (S3 DeleteObjects; more are split). A key
    /// that does not exist counts as deleted. Returns the keys the store refused, with why;
    /// throws only when the request itself failed.
    func delete(keys: [String]) throws(StorageError) -> [DeleteFailure]
}

/// One entry of `listObjects`.
public struct ListedObject: Sendable, Equatable {
    public var key: String
    /// Bytes as stored (compressed), not the original file's size.
    public var size: Int64
    /// When the store last wrote the object; nil when it did not say.
    public var lastModified: UTCTime?

    public init(key: String, size: Int64, lastModified: UTCTime?) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
    }
}

/// A key a batch delete did not remove, and the store's reason.
public struct DeleteFailure: Sendable, Equatable {
    public var key: String
    public var reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }
}

public struct PutRequest {
    public var key: String
    public var body: any UploadBody
    public var length: Int64 { body.length }
    /// Lower-case hex SHA-256 of exactly the bytes sent; S3 verifies it on arrival.
    public var sha256Hex: String
    /// User metadata; names are lower case, without the `x-amz-meta-` prefix.
    public var metadata: [String: String]
    /// Refuse to replace an existing object (`If-None-Match: *` on S3).
    public var ifAbsent: Bool
    public var storageClass: String?

    public init(key: String, body: any UploadBody, sha256Hex: String, metadata: [String: String] = [:],
                ifAbsent: Bool = false, storageClass: String? = nil) {
        self.key = key
        self.body = body
        self.sha256Hex = sha256Hex
        self.metadata = metadata
        self.ifAbsent = ifAbsent
        self.storageClass = storageClass
    }

    /// `length` bytes of an open file from offset 0 (the descriptor stays the caller's).
    public init(key: String, fileDescriptor: Int32, length: Int64, sha256Hex: String,
                metadata: [String: String] = [:], ifAbsent: Bool = false, storageClass: String? = nil) {
        self.init(key: key, body: FileUploadBody(descriptor: fileDescriptor, length: length), sha256Hex: sha256Hex,
                  metadata: metadata, ifAbsent: ifAbsent, storageClass: storageClass)
    }

    /// Bytes held in memory, with their SHA-256 computed here.
    public init(key: String, bytes: [UInt8], metadata: [String: String] = [:], ifAbsent: Bool = false,
                storageClass: String? = nil) {
        self.init(key: key, body: MemoryUploadBody(bytes), sha256Hex: SHA256Hasher.hash(bytes).hexString,
                  metadata: metadata, ifAbsent: ifAbsent, storageClass: storageClass)
    }
}

public enum PutOutcome: Sendable, Equatable {
    case stored
    /// Only with `ifAbsent`: the store kept the object that was already there.
    case alreadyExists
}

public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var metadata: [String: String]
    public var etag: String?

    public init(key: String, size: Int64, metadata: [String: String] = [:], etag: String? = nil) {
        self.key = key
        self.size = size
        self.metadata = metadata
        self.etag = etag
    }
}

public struct ObjectListing: Sendable, Equatable {
    public var keys: [String]
    public var commonPrefixes: [String]

    public init(keys: [String] = [], commonPrefixes: [String] = []) {
        self.keys = keys
        self.commonPrefixes = commonPrefixes
    }
}

/// Receives an object's bytes as they arrive.
///
/// A sink that finds the bytes damaged (checksum, length, decoding) throws
/// `StorageError.sinkFailed` from `write` or `end`: a store that retries downloads the object
/// again, since the damage may have happened on the way. Any other error (a local write that
/// failed, say) ends the download at once.
public protocol ObjectSink: AnyObject {
    /// Called before the first byte of every attempt, with the object's headers, so a
    /// retried download starts from a clean state.
    func begin(_ object: ObjectInfo) throws(StorageError)
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
    /// Called once the whole body of an attempt has arrived, before the store reports
    /// success: the place to verify it.
    func end() throws(StorageError)
}

extension ObjectSink {
    public func end() throws(StorageError) {}
}
