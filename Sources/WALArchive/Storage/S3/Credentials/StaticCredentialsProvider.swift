/// Keys that were given (options, environment, config file, a profile's static keys) and
/// never change during the process.
public final class StaticCredentialsProvider: CredentialsProvider {
    private let keys: S3Settings.Credentials

    public init(_ keys: S3Settings.Credentials) {
        self.keys = keys
    }

    public func credentials() throws(StorageError) -> S3Settings.Credentials { keys }

    public func invalidate() {}
}
