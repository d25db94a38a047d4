import Glibc

/// The archive identity a `wal-push` or `wal-fetch` call works with.
///
/// On S3 reading it is a request, and every call is a new process, so a copy is kept in
/// `pg_wal/.wal-archive/identity-<store tag>`: a call within `cacheLifetimeSeconds` of the last
/// read of the same store takes it from there, and steady archiving or recovery costs no request
/// for it. The copy is keyed by the whole store identity (a changed endpoint, bucket, prefix,
/// region or access key finds none), is parsed as strictly as the object itself, and only ever
/// says what the store said a few minutes ago; the callers read the store again before they
/// refuse a file because of it (`refresh`). Its short life bounds how long an archive whose
/// identity was deleted still takes files.
///
/// A directory archive is read on every call instead: the read is local, and it is what tells a
/// mounted share from the empty mount point left when the share is not mounted.
public struct ArchiveIdentityCheck {
    public enum Source: Sendable, Equatable {
        case store
        case cache
    }

    public static let cacheLifetimeSeconds: Int64 = 300

    public let store: any ObjectStore
    public let storeIdentity: StoreIdentity
    /// `pg_wal/.wal-archive` when it is trusted (`WALDirectory.trustedStateDirectory`); nil
    /// keeps no copy.
    public let cacheDirectory: String?

    public init(store: any ObjectStore, storeIdentity: StoreIdentity, cacheDirectory: String?) {
        self.store = store
        self.storeIdentity = storeIdentity
        self.cacheDirectory = cacheDirectory
    }

    public var layout: StorageLayout { StorageLayout(prefix: storeIdentity.prefix) }

    /// Where the identity object is, for messages.
    public var location: String { storeIdentity.describe(key: ArchiveIdentityObject.key(layout)) }

    /// The identity and where it came from; `.missing` when the archive has none.
    public func identity() throws(ArchiveIdentityError) -> (identity: ArchiveIdentity, source: Source) {
        if let cached = cached() { return (cached, .cache) }
        return (try refresh(), .store)
    }

    /// Reads the store (one GET) and keeps the copy.
    public func refresh() throws(ArchiveIdentityError) -> ArchiveIdentity {
        guard let identity = try ArchiveIdentityObject.read(from: store, layout: layout, storeIdentity: storeIdentity) else {
            if let path = cachePath { unlink(path) }
            throw .missing(location: location)
        }
        keep(identity)
        return identity
    }

    var cachePath: String? {
        guard storeIdentity.cachesArchiveIdentity, let cacheDirectory else { return nil }
        return cacheDirectory + "/identity-" + storeIdentity.tag
    }

    /// The copy, if it is there, fresh (its modification time within the lifetime, and not in
    /// the future beyond a small clock step) and valid.
    func cached() -> ArchiveIdentity? {
        guard let path = cachePath, let written = try? FileOperations.modificationTime(path) else { return nil }
        let age = UTCTime.now().secondsSinceEpoch - written.secondsSinceEpoch
        guard age >= -60, age < Self.cacheLifetimeSeconds,
              let bytes = try? FileOperations.readWholeFile(path, limit: ArchiveIdentityObject.sizeLimit) else { return nil }
        return try? ArchiveIdentity(parsing: bytes)
    }

    /// Best effort and not durable: a copy lost in a crash only costs the next call one GET.
    private func keep(_ identity: ArchiveIdentity) {
        guard let path = cachePath else { return }
        try? FileOperations.writeAtomically(identity.encoded, to: path, durable: false)
    }
}
