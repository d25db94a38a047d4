/// What the archive needs from a storage backend. S3 (`S3Store`) and a local or mounted
/// directory (`DirectoryStore`) implement it with the same key layout and the same errors.
public protocol ObjectStore: AnyObject {
    /// Where objects go, for messages and logs; never contains a secret.
    var location: String { get }

    /// Stores `request.length` bytes read from `request.fileDescriptor` (from offset 0)
    /// under `request.key`. Returns only once the store has acknowledged the object.
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
}

public struct PutRequest: Sendable {
    public var key: String
    public var fileDescriptor: Int32
    public var length: Int64
    /// Lower-case hex SHA-256 of exactly the bytes sent; S3 verifies it on arrival.
    public var sha256Hex: String
    /// User metadata; names are lower case, without the `x-amz-meta-` prefix.
    public var metadata: [String: String]
    /// Refuse to replace an existing object (`If-None-Match: *` on S3).
    public var ifAbsent: Bool
    public var storageClass: String?

    public init(key: String, fileDescriptor: Int32, length: Int64, sha256Hex: String,
                metadata: [String: String] = [:], ifAbsent: Bool = false, storageClass: String? = nil) {
        self.key = key
        self.fileDescriptor = fileDescriptor
        self.length = length
        self.sha256Hex = sha256Hex
        self.metadata = metadata
        self.ifAbsent = ifAbsent
        self.storageClass = storageClass
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
public protocol ObjectSink: AnyObject {
    /// Called before the first byte of every attempt, with the object's headers, so a
    /// retried download starts from a clean state.
    func begin(_ object: ObjectInfo) throws(StorageError)
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
}
