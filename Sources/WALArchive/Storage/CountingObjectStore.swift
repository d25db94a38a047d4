/// Wraps a store and counts the requests made through it, so tests and diagnostics can see
/// what a fetch or an operator's command costs. A `list` or `listObjects` call counts the pages
/// S3 sends for its entries (1000 a page, at least one), as a server that fills every page
/// would; one batch delete of at most 1000 keys counts once.
public final class CountingObjectStore: ObjectStore {
    public let base: any ObjectStore
    public private(set) var gets = 0
    public private(set) var heads = 0
    public private(set) var lists = 0
    public private(set) var puts = 0
    public private(set) var deletes = 0
    public private(set) var batchDeletes = 0

    /// Bytes of the objects stored (as sent) and downloaded (as the store gave their size).
    public private(set) var bytesSent: Int64 = 0
    public private(set) var bytesReceived: Int64 = 0

    public var requests: Int { gets + heads + lists + puts + deletes + batchDeletes }

    /// Attempts the store made for these requests: an S3 store counts its retries; other
    /// stores do not retry.
    public var attempts: Int { (base as? S3Store)?.attempts ?? requests }
    public var location: String { base.location }

    public init(_ base: any ObjectStore) {
        self.base = base
    }

    public func resetCounts() {
        gets = 0; heads = 0; lists = 0; puts = 0; deletes = 0; batchDeletes = 0
        bytesSent = 0; bytesReceived = 0
    }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        puts += 1
        let outcome = try base.put(request)
        if outcome == .stored { bytesSent += request.length }
        return outcome
    }

    @discardableResult
    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo {
        gets += 1
        let info = try base.get(key: key, into: sink)
        bytesReceived += info.size
        return info
    }

    public func head(key: String) throws(StorageError) -> ObjectInfo? {
        heads += 1
        return try base.head(key: key)
    }

    public func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        lists += 1
        let listing = try base.list(prefix: prefix, delimiter: delimiter, startAfter: startAfter, limit: limit)
        lists += Self.pages(entries: listing.keys.count + listing.commonPrefixes.count) - 1
        return listing
    }

    public func delete(key: String) throws(StorageError) {
        deletes += 1
        try base.delete(key: key)
    }

    public func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject] {
        lists += 1
        let objects = try base.listObjects(prefix: prefix, startAfter: startAfter, limit: limit)
        lists += Self.pages(entries: objects.count) - 1
        return objects
    }

    /// Requests of one listing of `entries` entries: S3 sends at most 1000 a page, and an
    /// empty listing is still one request (counted before the listing, so a failed one counts).
    private static func pages(entries: Int) -> Int {
        max(1, (entries + 999) / 1000)
    }

    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] {
        batchDeletes += 1
        return try base.delete(keys: keys)
    }
}
