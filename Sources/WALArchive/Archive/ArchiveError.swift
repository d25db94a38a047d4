/// Why `wal-push` did not archive a file.
public enum ArchiveError: Error, Sendable {
    case usage(ConfigurationError)
    case invalidFile(detail: String)
    /// A different file is already archived under the name (`location` names where).
    case conflict(location: String, detail: String)
    case storage(StorageError, key: String)
    /// Reading the file or writing the upload's temporary file failed.
    case localFile(detail: String)
    /// The destination has no archive identity: not initialised, or not the archive at all.
    case noArchiveIdentity(location: String, initCommand: String)
    /// The archive identity cannot be read or used, so `name` was not stored.
    case archiveIdentity(ArchiveIdentityError, name: String)
    /// The file (or the server pushing it) belongs to another database system than the archive.
    case otherSystem(file: String, system: UInt64, archive: ArchiveIdentity, location: String)
    /// The configured encryption key does not fit the archive (none for an encrypted one, one
    /// the archive does not list, or one for an unencrypted archive); `detail` says what to set.
    case encryption(location: String, detail: String)

    public var message: String {
        switch self {
        case .usage(let error):
            return error.message
        case .invalidFile(let detail):
            return "\(detail); not archived: check where this file came from"
        case .conflict(let location, let detail):
            return "a different file is already archived as \(location) (\(detail)); it is never overwritten: "
                + "check whether two clusters archive to the same destination"
        case .storage(let error, let key):
            return "cannot store \(key): \(error.message); \(StorageAdvice.for(error)), PostgreSQL will retry"
        case .localFile(let detail):
            return "\(detail); check the file, its permissions and free space, PostgreSQL will retry"
        case .noArchiveIdentity(let location, let initCommand):
            return "\(location) has no archive identity (\(ArchiveIdentityObject.name)): it is not an archive yet, "
                + "or not the archive at all (an unmounted share, a mistyped prefix?); nothing was stored, PostgreSQL will "
                + "retry. If it is the right place, create the identity once with: \(initCommand)"
        case .archiveIdentity(let error, let name):
            return "cannot store \(name): \(error.message), PostgreSQL will retry"
        case .otherSystem(let file, let system, let archive, let location):
            return "\(file) belongs to system \(system), but the archive \(location) belongs to \(archive.summary); "
                + "not archived: give each cluster its own destination (and `wal-archive init` it)"
        case .encryption(let location, let detail):
            return "\(location) \(detail); nothing was stored, PostgreSQL will retry"
        }
    }
}
