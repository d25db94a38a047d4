/// Why `wal-fetch` did not restore a file.
public enum RestoreError: Error, Sendable {
    case usage(ConfigurationError)
    /// `%f` is not a WAL file name; `detail` says why.
    case invalidName(detail: String)
    case notFound(name: String, location: String)
    case storage(StorageError, name: String)
    /// The object's bytes do not prove to be the archived file (checksum, decompression).
    case verification(detail: String)
    /// Writing the destination (or its temporary file) failed.
    case localFile(detail: String)
    /// Writing the destination (or its temporary file) found its file system, or the user's
    /// quota on it, full (ENOSPC, EDQUOT).
    case destinationFull(directory: String, detail: String)
    /// The location has no archive identity: not an archive, or not the one meant.
    case noArchiveIdentity(location: String, initCommand: String)
    /// The archive identity cannot be read or used, so `name` was not fetched.
    case archiveIdentity(ArchiveIdentityError, name: String)
    /// The archive, or the file found in it, belongs to another database system.
    case otherSystem(detail: String)
    /// The name is under several keys with different content, or its claim is damaged.
    case ambiguous(detail: String)
    /// The object cannot be read with the configured keys (none, or not its key), or is
    /// plaintext in an encrypted archive.
    case encryption(detail: String)

    /// A failure that retrying later could fix.
    public var isTransient: Bool {
        switch self {
        case .usage, .invalidName, .notFound, .verification, .noArchiveIdentity, .otherSystem, .ambiguous, .encryption:
            return false
        case .localFile, .destinationFull: return true
        case .storage(let error, _): return Self.isTransient(error)
        case .archiveIdentity(let error, _):
            guard case .storage(let storageError, _) = error else { return false }
            return Self.isTransient(storageError)
        }
    }

    private static func isTransient(_ error: StorageError) -> Bool {
        switch error {
        case .unavailable, .invalidResponse, .localIO: return true
        case .notFound, .alreadyExists, .accessDenied, .rejected, .sinkFailed, .missingLibrary: return false
        }
    }

    public var message: String {
        switch self {
        case .usage(let error):
            return error.message
        case .invalidName(let detail):
            return "\(detail); check restore_command (it should be `wal-fetch %f %p`)"
        case .notFound(let name, let location):
            return "\(name) is not in the archive \(location)"
        case .storage(let error, let name):
            return "cannot fetch \(name): \(error.message); \(StorageAdvice.for(error))"
        case .verification(let detail):
            return "\(detail); nothing was written to the destination: the archived copy is damaged, use another copy of it"
        case .localFile(let detail):
            return "\(detail); check free space and permissions of the data directory"
        case .destinationFull(let directory, let detail):
            return "\(detail): the file system of \(directory) is full (or the quota on it); nothing was written to the "
                + "destination: free space there and start again"
        case .noArchiveIdentity(let location, let initCommand):
            return "\(location) has no archive identity (\(ArchiveIdentityObject.name)): it is not an archive, or not the "
                + "one meant (a mistyped prefix, an unmounted share?); recovery stops here instead of ending early. Check "
                + "restore_command's configuration; only if this is the right archive, written before archives had an "
                + "identity, create it from this cluster: \(initCommand)"
        case .archiveIdentity(let error, let name):
            return "cannot fetch \(name): \(error.message)"
        case .otherSystem(let detail):
            return "\(detail); nothing was written to the destination"
        case .ambiguous(let detail):
            return "\(detail); nothing was written to the destination: remove the copy that does not belong to this "
                + "archive, then start recovery again"
        case .encryption(let detail):
            return "\(detail); nothing was written to the destination"
        }
    }
}
