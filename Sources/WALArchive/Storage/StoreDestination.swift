/// Which backend holds the archive, with everything needed to reach it.
public enum StoreDestination: Sendable, Equatable {
    case s3(S3Settings)
    /// A local or mounted directory (`file:///path`).
    case directory(root: String)

    /// A new store for this destination; each thread needs its own (stores are not thread-safe).
    public func makeStore() throws(StorageError) -> any ObjectStore {
        switch self {
        case .directory(let root): return DirectoryStore(root: root)
        case .s3(let settings): return try S3Store(settings: settings)
        }
    }
}
