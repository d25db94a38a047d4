import Glibc

/// The directory of the file PostgreSQL names (`%p`), normally `pg_wal`, as both tools use it:
/// where the data directory and its recovery signal files are, and where the tools keep their
/// own state (`pg_wal/.wal-archive/`: push-ahead records, prefetched segments, locator hints).
public struct WALDirectory: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The directory holding `filePath` (`%p`).
    public init(containing filePath: String) {
        self.init(path: FileOperations.directoryName(filePath))
    }

    /// True when this is a data directory's `pg_wal`, as PostgreSQL passes `%p`.
    public var isPGWAL: Bool { FileOperations.baseName(path) == "pg_wal" }

    /// The data directory: the parent of `pg_wal`; otherwise the working directory, which
    /// PostgreSQL sets to the data directory before it runs archive and restore commands.
    public var dataDirectory: String { isPGWAL ? FileOperations.directoryName(path) : "." }

    public var recoveryState: RecoveryState { RecoveryState(dataDirectory: dataDirectory) }

    /// The tools' own state, beside PostgreSQL's files: nothing in it is named like a WAL file,
    /// and PostgreSQL's own scans of `pg_wal` (recycling, `pg_ls_waldir`) only act on WAL names.
    public var stateDirectory: String { path + "/.wal-archive" }
    public var pushedRecordsDirectory: String { stateDirectory + "/pushed" }
    public var prefetchDirectory: String { stateDirectory + "/prefetch" }
    /// The prefetch worker's records of the files it verified (`PrefetchRecord`), beside the
    /// prefetch directory so that it holds nothing but prefetched segments.
    public var prefetchRecordsDirectory: String { stateDirectory + "/prefetch-records" }

    /// Written by a fetch into this directory: the first `wal-push` after recovery then looks
    /// for leftovers of fetches once more (a fetch killed just before the promotion leaves a
    /// temporary file that no later fetch would remove).
    var restoredMarker: String { stateDirectory + "/restored" }

    /// The state directory, or `subdirectory` of it, when the tools may use it
    /// (`FileOperations.isPrivateDirectory`: a real directory of this user, writable by no one
    /// else); nil otherwise, and then the caller goes without (no prefetch, no push-ahead, no
    /// hints). `create` makes missing ones (0700).
    public func trustedStateDirectory(_ subdirectory: String? = nil, create: Bool) -> String? {
        let prepared = create ? FileOperations.preparePrivateDirectory : FileOperations.isPrivateDirectory
        guard prepared(stateDirectory) else { return nil }
        guard let subdirectory else { return stateDirectory }
        let path = stateDirectory + "/" + subdirectory
        return prepared(path) ? path : nil
    }

    /// Before a fetch writes here: removes temporary files of fetches and prefetch workers
    /// that were killed (here, in the state directory, in the prefetch directory and the
    /// records' one), and leaves the marker for `cleanUpAfterRecovery`. A few small directory
    /// reads. `exceptPrefetchDirectory`: the caller cleans that one itself, from the listing
    /// it makes anyway (`RestorePrefetch.serve`).
    public func cleanUpBeforeRestore(exceptPrefetchDirectory: Bool = false) {
        TemporaryFileCleanup.removeAbandoned(in: path)
        // Only a data directory's pg_wal gets state of its own (a fetch into /tmp gets none).
        guard let state = trustedStateDirectory(create: isPGWAL) else { return }
        TemporaryFileCleanup.removeAbandoned(in: state)
        for subdirectory in exceptPrefetchDirectory ? ["prefetch-records"] : ["prefetch", "prefetch-records"] {
            if let directory = trustedStateDirectory(subdirectory, create: false) {
                TemporaryFileCleanup.removeAbandoned(in: directory)
            }
        }
        if isPGWAL && !FileOperations.entryExists(restoredMarker) {
            close(open(restoredMarker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600))
        }
    }

    /// The first `wal-push` of a server out of recovery: fetched files are useless now, and a
    /// fetch killed at the end of recovery may have left a temporary file here. Costs one
    /// `lstat` when there was no recovery.
    public func cleanUpAfterRecovery() {
        guard FileOperations.entryExists(restoredMarker) || FileOperations.entryExists(prefetchDirectory)
            || FileOperations.entryExists(prefetchRecordsDirectory) else { return }
        TemporaryFileCleanup.removeAbandoned(in: path)
        removePrefetchedSegments()
        if let state = trustedStateDirectory(create: false) {
            TemporaryFileCleanup.removeAbandoned(in: state)
            unlink(restoredMarker)
        }
    }

    /// Removes the prefetch directory and the records' one, with what they hold: recovery is over
    /// (the server was promoted, or the worker found it no longer recovering), so nothing will
    /// ask for them. Only trusted ones: a symlink is never followed.
    public func removePrefetchedSegments() {
        for subdirectory in ["prefetch", "prefetch-records"] {
            guard let directory = trustedStateDirectory(subdirectory, create: false),
                  let names = try? FileOperations.directoryEntries(directory) else { continue }
            for name in names { unlink(directory + "/" + name) }
            rmdir(directory)
        }
    }
}
