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
    /// A different file is already archived under this name; it is never overwritten.
    case conflictingArchive = 4
}

public enum FetchExitStatus: Int32, Sendable {
    /// `%p` is completely written and verified.
    case restored = 0
    /// The file definitely does not exist in the archive (or, in standby mode, a transient
    /// failure: the standby retries anyway).
    case notFound = 1
    /// Anything else. PostgreSQL treats an exit status above 125 as fatal, so archive
    /// recovery stops instead of ending early and promoting at the wrong point.
    case fatal = 255
}

/// Why `wal-push` did not archive a file.
public enum ArchiveError: Error, Sendable {
    case usage(ConfigurationError)
    case invalidFile(detail: String)
    case conflict(key: String, detail: String)
    case storage(StorageError, key: String)
    /// Reading the file or writing the upload's temporary file failed.
    case localFile(detail: String)

    public var exitStatus: PushExitStatus {
        switch self {
        case .usage: return .usageError
        case .invalidFile: return .invalidFile
        case .conflict: return .conflictingArchive
        case .storage, .localFile: return .transientFailure
        }
    }

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

    /// A failure that retrying later could fix.
    public var isTransient: Bool {
        switch self {
        case .usage, .invalidName, .notFound, .verification: return false
        case .localFile: return true
        case .storage(let error, _):
            switch error {
            case .unavailable, .invalidResponse, .localIO: return true
            case .notFound, .alreadyExists, .accessDenied, .rejected, .sinkFailed: return false
            }
        }
    }

    /// In standby mode PostgreSQL keeps calling restore_command, so a transient failure may
    /// look like "not found"; during archive recovery it must stop recovery instead.
    public func exitStatus(standbyMode: Bool) -> FetchExitStatus {
        if case .notFound = self { return .notFound }
        return standbyMode && isTransient ? .notFound : .fatal
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
        }
    }
}

enum StorageAdvice {
    static func `for`(_ error: StorageError) -> String {
        switch error {
        case .accessDenied: return "check the credentials and the bucket policy"
        case .unavailable: return "check the endpoint, the network and the storage's health"
        case .rejected: return "check the URL, the region and the bucket settings"
        case .invalidResponse: return "check that the endpoint is an S3-compatible service"
        case .localIO: return "check the local disk and the archive directory"
        case .notFound, .alreadyExists, .sinkFailed: return "check the archive"
        }
    }
}
