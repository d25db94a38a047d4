/// Keys with the moment they stop working (STS, container and instance credentials).
public struct TemporaryCredentials: Sendable, Equatable {
    public var keys: S3Settings.Credentials
    /// Nil when the source gave none (they are then treated as long-lived).
    public var expiration: UTCTime?

    public init(keys: S3Settings.Credentials, expiration: UTCTime?) {
        self.keys = keys
        self.expiration = expiration
    }

    /// Seconds of validity left at `now`; nil when they do not expire.
    public func remainingSeconds(at now: UTCTime) -> Int64? {
        expiration.map { $0.secondsSinceEpoch - now.secondsSinceEpoch }
    }
}

/// Where temporary credentials are fetched from: STS, a container endpoint, EC2 metadata.
protocol TemporaryCredentialsSource: Sendable {
    /// Text that names exactly what is asked for (endpoint, role, session): equal identities
    /// get equal credentials, so it keys the disk cache. Never contains a secret.
    var cacheIdentity: String { get }
    /// What it is, for messages (`STS AssumeRoleWithWebIdentity for arn:… at https://…`).
    var name: String { get }
    /// One round of requests for fresh credentials.
    func fetch() throws(StorageError) -> TemporaryCredentials
}
