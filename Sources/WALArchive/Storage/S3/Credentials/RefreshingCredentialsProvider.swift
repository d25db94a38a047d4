import Glibc

/// Temporary credentials from a source, fetched once and then served from memory and from
/// the disk cache, and fetched again when fewer than `refreshMarginSeconds` of validity are
/// left: a request signed just before expiry could otherwise reach S3 after it, and a
/// prefetch batch or a slow upload lasts a while.
///
/// Thread-safe; one instance serves all the stores of a process (`CredentialsProviders`),
/// so parallel connections make one fetch, and the disk cache's lock makes parallel
/// processes make one fetch between them too.
final class RefreshingCredentialsProvider: CredentialsProvider, @unchecked Sendable {
    /// The AWS SDKs refresh 5 minutes (botocore: 15) before expiry; so do we.
    static let refreshMarginSeconds: Int64 = 300
    /// When a refresh fails, keys with at least this much left still serve: an STS or
    /// metadata hiccup must not stop archiving while the keys in hand still work.
    static let fallbackMarginSeconds: Int64 = 30
    /// Keys this process fetched serve its next requests for this long even when they have
    /// less than the refresh margin left (a source that only hands out short-lived keys would
    /// otherwise be asked again for every request).
    static let reuseAfterFetchSeconds: Int64 = 60

    let source: any TemporaryCredentialsSource
    let cache: CredentialsCache?
    private let clock: @Sendable () -> UTCTime
    private var current: TemporaryCredentials?
    private var fetchedAt: UTCTime?
    private let lock = Lock()

    init(source: any TemporaryCredentialsSource, cache: CredentialsCache?,
         clock: @escaping @Sendable () -> UTCTime = { UTCTime.now() }) {
        self.source = source
        self.cache = cache
        self.clock = clock
    }

    func credentials() throws(StorageError) -> S3Settings.Credentials {
        try lock.withLock { () throws(StorageError) -> S3Settings.Credentials in
            let now = clock()
            if let current, Self.has(current, moreThan: Self.refreshMarginSeconds, at: now) {
                return current.keys
            }
            if let current, let fetchedAt, now.secondsSinceEpoch - fetchedAt.secondsSinceEpoch < Self.reuseAfterFetchSeconds,
               Self.has(current, moreThan: Self.fallbackMarginSeconds, at: now) {
                return current.keys
            }
            let identity = source.cacheIdentity
            if let cached = cache?.read(identity: identity), Self.has(cached, moreThan: Self.refreshMarginSeconds, at: now) {
                current = cached
                return cached.keys
            }
            do throws(StorageError) {
                let fetched = try refresh(identity: identity)
                current = fetched
                fetchedAt = now
                return fetched.keys
            } catch {
                let candidates = [current, cache?.read(identity: identity)].compactMap { $0 }
                if let usable = candidates.first(where: { Self.has($0, moreThan: Self.fallbackMarginSeconds, at: clock()) }) {
                    current = usable
                    return usable.keys
                }
                throw error
            }
        }
    }

    func invalidate() {
        lock.withLock {
            current = nil
            fetchedAt = nil
            cache?.remove(identity: source.cacheIdentity)
        }
    }

    /// Fetches under the cache's lock, after looking once more: another process may have
    /// refreshed while this one waited for the lock.
    private func refresh(identity: String) throws(StorageError) -> TemporaryCredentials {
        guard let cache else { return try fetchUnexpired() }
        return try cache.withRefreshLock(identity: identity) { () throws(StorageError) -> TemporaryCredentials in
            if let cached = cache.read(identity: identity), Self.has(cached, moreThan: Self.refreshMarginSeconds, at: clock()) {
                return cached
            }
            let fetched = try fetchUnexpired()
            cache.write(fetched, identity: identity)
            return fetched
        }
    }

    private func fetchUnexpired() throws(StorageError) -> TemporaryCredentials {
        let fetched = try source.fetch()
        if let remaining = fetched.remainingSeconds(at: clock()), remaining <= 0 {
            throw .accessDenied(detail: "\(source.name) handed out credentials that expired at "
                                + "\(fetched.expiration?.extendedISO8601 ?? "?"); check this machine's clock")
        }
        return fetched
    }

    private static func has(_ credentials: TemporaryCredentials, moreThan seconds: Int64, at now: UTCTime) -> Bool {
        guard let remaining = credentials.remainingSeconds(at: now) else { return true }
        return remaining > seconds
    }
}
