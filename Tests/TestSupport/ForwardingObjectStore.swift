import WALArchive

/// A test store in front of a real one: every request goes to `base` unless the conforming type
/// answers it itself (a counting, refusing or recording wrapper changes one or two requests).
public protocol ForwardingObjectStore: ObjectStore {
    var base: any ObjectStore { get }
}

extension ForwardingObjectStore {
    public var location: String { base.location }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome { try base.put(request) }
    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo { try base.get(key: key, into: sink) }
    public func head(key: String) throws(StorageError) -> ObjectInfo? { try base.head(key: key) }
    public func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        try base.list(prefix: prefix, delimiter: delimiter, startAfter: startAfter, limit: limit)
    }
    public func delete(key: String) throws(StorageError) { try base.delete(key: key) }
    public func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject] {
        try base.listObjects(prefix: prefix, startAfter: startAfter, limit: limit)
    }
    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] { try base.delete(keys: keys) }
}
