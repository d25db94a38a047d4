/// Why the archive identity could not be read or written.
public enum ArchiveIdentityError: Error, Sendable {
    /// The location holds no `wal-archive.json`: not an archive yet (or not the archive: an
    /// empty mount point, a mistyped prefix).
    case missing(location: String)
    /// `wal-archive.json` is there but is not an identity this version can use.
    case unusable(location: String, ArchiveIdentityFormatError)
    case storage(StorageError, location: String)

    public var message: String {
        switch self {
        case .missing(let location):
            return "\(location) is not a wal-archive archive: it has no \(ArchiveIdentityObject.name)"
        case .unusable(let location, let error):
            return "\(location) cannot be used: \(error.message)"
        case .storage(let error, let location):
            return "cannot access \(location): \(error.message); \(StorageAdvice.for(error))"
        }
    }
}
