/// Which backend holds the archive, with everything needed to reach it.
public enum StoreDestination: Sendable, Equatable {
    case s3(S3Settings)
    /// A local or mounted directory (`file:///path`).
    case directory(root: String)

    /// A new store for this destination; each thread needs its own (stores are not thread-safe).
    /// `connectsEarly`: the caller will certainly make a request with it, so an S3 store may
    /// open its first connection now, while the caller prepares that request (EarlyConnection).
    public func makeStore(connectsEarly: Bool = false) throws(StorageError) -> any ObjectStore {
        switch self {
        case .directory(let root): return DirectoryStore(root: root)
        case .s3(let settings): return try S3Store(settings: settings, connectsEarly: connectsEarly)
        }
    }
}
