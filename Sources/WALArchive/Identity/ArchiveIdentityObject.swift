import Glibc

/// Reads and creates the archive identity object `<prefix>/wal-archive.json`.
public enum ArchiveIdentityObject {
    public static let name = "wal-archive.json"
    /// Far more than an identity needs; a larger object is not one.
    static let sizeLimit = 64 * 1024

    public enum CreateOutcome: Sendable, Equatable {
        case created
        /// The archive already had an identity (the same system or not: the caller compares).
        case existing(ArchiveIdentity)
    }

    public static func key(_ layout: StorageLayout) -> String {
        layout.root + name
    }

    /// The identity, or nil when the archive has none. One GET, more when the body arrives
    /// damaged: bytes that are not an identity are downloaded again (a byte flipped on the way
    /// is not the archive's fault; over an unreliable path every retry may fail differently, and
    /// then the store is unavailable, a transient failure), and only the very same bytes failing
    /// twice make the identity unusable.
    public static func read(from store: any ObjectStore, layout: StorageLayout, storeIdentity: StoreIdentity)
        throws(ArchiveIdentityError) -> ArchiveIdentity? {
        let key = key(layout)
        let location = storeIdentity.describe(key: key)
        let sink = MemorySink(limit: sizeLimit) { (try? ArchiveIdentity(parsing: $0)) != nil }
        do {
            try store.get(key: key, into: sink)
        } catch {
            switch error {
            case .notFound:
                return nil
            case .sinkFailed where sink.exceededLimit:
                throw .unusable(location: location, .invalidField("the object", expected: "at most \(sizeLimit) bytes"))
            case .sinkFailed:
                // The same bytes twice, and not an identity: parsed again below for the reason.
                break
            default:
                throw .storage(error, location: location)
            }
        }
        do {
            return try ArchiveIdentity(parsing: sink.bytes)
        } catch {
            throw .unusable(location: location, error)
        }
    }

    /// Writes `identity` unless the archive has one already: a conditional PUT, so that of two
    /// `wal-archive init` racing, exactly one creates it and the other finds it. A store that
    /// does not implement conditional writes (501) gets a read, then a plain PUT.
    public static func create(_ identity: ArchiveIdentity, in store: any ObjectStore, layout: StorageLayout,
                              storeIdentity: StoreIdentity) throws(ArchiveIdentityError) -> CreateOutcome {
        let key = key(layout)
        let location = storeIdentity.describe(key: key)
        var request = PutRequest(key: key, bytes: identity.encoded, ifAbsent: true)
        let outcome: PutOutcome
        do {
            outcome = try store.put(request)
        } catch {
            guard error.isConditionalWriteUnsupported else { throw .storage(error, location: location) }
            if let existing = try read(from: store, layout: layout, storeIdentity: storeIdentity) { return .existing(existing) }
            request.ifAbsent = false
            do {
                outcome = try store.put(request)
            } catch {
                throw .storage(error, location: location)
            }
        }
        switch outcome {
        case .stored:
            return .created
        case .alreadyExists:
            guard let existing = try read(from: store, layout: layout, storeIdentity: storeIdentity) else {
                throw .storage(.invalidResponse(detail: "the store reported \(key) as existing, then as absent"), location: location)
            }
            return .existing(existing)
        }
    }
}
