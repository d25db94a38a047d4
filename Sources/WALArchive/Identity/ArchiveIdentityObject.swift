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

    /// The store `destination` names, for work on the identity at `location`: a store that
    /// cannot be made (settings, TLS set-up) is a failure to reach the identity, named as such.
    public static func store(_ destination: StoreDestination, location: String) throws(ArchiveIdentityError) -> any ObjectStore {
        do {
            return try destination.makeStore()
        } catch {
            throw .storage(error, location: location)
        }
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

    public enum AddKeyOutcome: Sendable, Equatable {
        case added(ArchiveIdentity)
        /// The identity lists the key id already.
        case alreadyListed(ArchiveIdentity)
        /// An archive without client-side encryption: nothing was changed.
        case notEncrypted(ArchiveIdentity)
    }

    /// Adds `keyID` to the identity's `encryption_key_ids`; nothing else changes. Neither S3
    /// nor a directory offers a compare-and-swap here that every supported server honours, so
    /// the identity is replaced, then read back: should a concurrent `add-key` have replaced it
    /// with a list lacking this id (or an id listed before), the id is added again, up to a
    /// few rounds. A lost id can only make `wal-push` refuse that key, loudly; an identity is
    /// never written without its system, and ids are only ever added.
    public static func addEncryptionKey(_ keyID: String, in store: any ObjectStore, layout: StorageLayout,
                                        storeIdentity: StoreIdentity) throws(ArchiveIdentityError) -> AddKeyOutcome {
        let key = key(layout)
        let location = storeIdentity.describe(key: key)
        var required: [String] = []
        for _ in 0..<5 {
            guard var identity = try read(from: store, layout: layout, storeIdentity: storeIdentity) else {
                throw .missing(location: location)
            }
            guard let ids = identity.encryptionKeyIDs else { return .notEncrypted(identity) }
            if required.isEmpty {
                if ids.contains(keyID) { return .alreadyListed(identity) }
                required = ids + [keyID]
            } else if required.allSatisfy(ids.contains) {
                return .added(identity)
            }
            guard ids.count < ArchiveIdentity.maximumKeyIDs else {
                throw .unusable(location: location, .invalidField("encryption_key_ids",
                                                                  expected: "at most \(ArchiveIdentity.maximumKeyIDs) key ids"))
            }
            identity.encryptionKeyIDs = ids + required.filter { !ids.contains($0) }
            do {
                _ = try store.put(PutRequest(key: key, bytes: identity.encoded))
            } catch {
                throw .storage(error, location: location)
            }
        }
        throw .storage(.unavailable(detail: "\(location) kept changing while the key id was added; run add-key again"),
                       location: location)
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
