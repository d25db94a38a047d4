/// Hands the signer the keys to sign with. Implementations are shared by every store of a
/// process (the prefetch worker's and push-ahead's threads), so they must be thread-safe.
public protocol CredentialsProvider: AnyObject, Sendable {
    /// Keys valid for at least the next request; fetched, or refreshed, when needed.
    func credentials() throws(StorageError) -> S3Settings.Credentials

    /// The store refused the keys as expired or revoked before their time: forget them, so
    /// that the next `credentials()` fetches new ones. A no-op for keys that never change.
    func invalidate()
}
