/// Exit codes, as PostgreSQL's archive and restore contract reads them (PostgreSQL 15 docs,
/// "25.3.1. Setting Up WAL Archiving" and "restore_command" in 20.5.4 / 25.3.4).
public enum PushExitStatus: Int32, Sendable {
    /// Stored, or the identical file was already stored.
    case archived = 0
    /// Storage unreachable or failing; PostgreSQL retries the segment.
    case transientFailure = 1
    /// Usage or configuration error.
    case usageError = 2
    /// The file is not a valid WAL file for its name; it is never uploaded.
    case invalidFile = 3
    /// A different file is already archived under this name (it is never overwritten), or the
    /// file belongs to another database system than the archive.
    case conflictingArchive = 4
}

extension ArchiveError {
    /// What PostgreSQL's archiver is told: 0 never comes from an error.
    public var exitStatus: PushExitStatus {
        switch self {
        case .usage: return .usageError
        case .invalidFile: return .invalidFile
        case .conflict, .otherSystem: return .conflictingArchive
        // Exit 1, not 2: PostgreSQL retries either way, and the archive may well be what is
        // wrong (or about to be fixed: `wal-archive add-key`), not this call's configuration.
        case .storage, .localFile, .noArchiveIdentity, .encryption: return .transientFailure
        case .archiveIdentity(let error, _):
            if case .unusable = error { return .usageError }
            return .transientFailure
        }
    }
}
