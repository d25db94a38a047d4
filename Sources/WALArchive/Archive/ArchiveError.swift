/// Why `wal-push` did not archive a file.
public enum ArchiveError: Error, Sendable {
    case usage(ConfigurationError)
    case invalidFile(detail: String)
    case conflict(key: String, detail: String)
    case storage(StorageError, key: String)
    /// Reading the file or writing the upload's temporary file failed.
    case localFile(detail: String)

    public var message: String {
        switch self {
        case .usage(let error):
            return error.message
        case .invalidFile(let detail):
            return "\(detail); not archived: check where this file came from"
        case .conflict(let key, let detail):
            return "a different file is already archived as \(key) (\(detail)); it is never overwritten: "
                + "check whether two clusters archive to the same destination"
        case .storage(let error, let key):
            return "cannot store \(key): \(error.message); \(StorageAdvice.for(error)), PostgreSQL will retry"
        case .localFile(let detail):
            return "\(detail); check the file, its permissions and free space, PostgreSQL will retry"
        }
    }
}
