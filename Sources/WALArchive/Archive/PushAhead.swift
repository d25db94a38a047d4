import Glibc

/// Push-ahead for `wal-push`: while storing the file PostgreSQL asked for, also store the
/// next files waiting in `pg_wal/archive_status/*.ready` (history files first, then oldest
/// first), on up to `concurrency` threads, each with its own store (a store is not
/// thread-safe). Each one stored gets a `PushedRecord`; PostgreSQL's own call for it later
/// finds the record, checks it against the file, and returns 0 without a request.
///
/// Never reports archived what is not stored: a record is written only after the store
/// acknowledged the object (or already held the identical one), and only if the file was
/// not changed while it was hashed and uploaded. A failed or conflicting upload leaves no record, so
/// PostgreSQL's own call does the work and reports the failure. After a crash, the next
/// call removes temporary files of dead writers and records whose file has left `pg_wal`.
public struct PushAhead: Sendable {
    /// Files one call pushes ahead per thread, so that a call after an outage (thousands of
    /// `.ready` files) still returns within a few uploads' time.
    static let filesPerThread = 4

    public let concurrency: Int
    public let path: String
    public let name: String
    /// The directory of `%p`, normally `pg_wal`.
    public let walDirectory: String
    let recordDirectory: String
    /// Keys the records: one made for another store (endpoint, bucket, prefix, region, access
    /// key) is never trusted.
    let storeIdentity: StoreIdentity
    /// Computed when needed: the first SHA-256 loads libcrypto's configuration, which a call
    /// without a record or ready files does not need before its own upload.
    var archiveTag: String { storeIdentity.tag }

    public init(concurrency: Int, path: String, storeIdentity: StoreIdentity) {
        self.concurrency = concurrency
        self.path = path
        self.name = FileOperations.baseName(path)
        self.walDirectory = FileOperations.directoryName(path)
        self.recordDirectory = PushedRecord.directory(walDirectory: walDirectory)
        self.storeIdentity = storeIdentity
    }

    public init(configuration: Configuration, path: String) {
        self.init(concurrency: configuration.pushAheadConcurrency, path: path, storeIdentity: configuration.storeIdentity)
    }

    /// True when an earlier call already stored this very file: its record is there and the
    /// file still has the recorded identity (file system, inode, size, modification and
    /// status-change times), which proves its content unchanged since it was uploaded without
    /// reading it again (FileIdentity says why). The record is used up either way.
    public func consumeRecord() -> Bool {
        guard recordDirectoryIsTrusted(create: false) else { return false }
        let recordPath = recordDirectory + "/" + name
        guard let bytes = try? FileOperations.readWholeFile(recordPath, limit: 64 * 1024) else { return false }
        unlink(recordPath)
        guard let record = PushedRecord(text: String(decoding: bytes, as: UTF8.self), archiveTag: archiveTag),
              record.name == name else { return false }
        return FileIdentity(path: path) == record.identity
    }

    /// Stores `%p` with `operation` on this thread while up to `concurrency` threads store the
    /// next ready files; returns (and throws) what storing `%p` gave, after every thread ended.
    public func archive(with operation: ArchiveOperation, configuration: Configuration) throws(ArchiveError)
        -> ArchiveOperation.Outcome {
        removeStaleRecords()
        // A promoted server archives; what was fetched for its recovery is useless now.
        let directory = WALDirectory(path: walDirectory)
        if directory.isPGWAL && !directory.recoveryState.isRecovering {
            directory.cleanUpAfterRecovery()
        }
        let ahead = concurrency > 0 && recordDirectoryIsTrusted(create: true)
            ? readyFiles(limit: concurrency * Self.filesPerThread) : []
        let threads = ThreadGroup()
        if !ahead.isEmpty {
            let queue = SharedQueue(ahead)
            let pusher = AheadPusher(configuration: configuration, archiveIdentity: operation.archiveIdentity,
                                     walDirectory: walDirectory, recordDirectory: recordDirectory, archiveTag: archiveTag)
            for index in 0..<min(concurrency, ahead.count) {
                threads.start(index) { _ in pusher.run(queue) }
            }
        }
        defer { threads.join() }
        return try operation.archive(path: path)
    }

    /// Names waiting in `archive_status` (without `.ready`), other than `%p`'s, without a
    /// record yet: timeline history files first (PostgreSQL's archiver does the same), then in
    /// name order, which is WAL order.
    func readyFiles(limit: Int) -> [String] {
        guard let entries = try? FileOperations.directoryEntries(walDirectory + "/archive_status") else { return [] }
        var names: [(rank: Int, name: String)] = []
        for entry in entries where entry.hasSuffix(".ready") {
            let candidate = String(entry.dropLast(".ready".count))
            guard candidate != name, let fileName = try? WALFileName(parsing: candidate),
                  !FileOperations.exists(recordDirectory + "/" + candidate) else { continue }
            names.append((fileName.kind == .timelineHistory ? 0 : 1, candidate))
        }
        return names.sorted { ($0.rank, $0.name) < ($1.rank, $1.name) }.prefix(limit).map(\.name)
    }

    /// Records whose file is gone from `pg_wal` (archived and recycled by PostgreSQL) and
    /// temporary files of writers that died.
    func removeStaleRecords() {
        guard recordDirectoryIsTrusted(create: false),
              let entries = try? FileOperations.directoryEntries(recordDirectory) else { return }
        for entry in entries where !entry.hasPrefix(TemporaryFileCleanup.prefix) {
            if !FileOperations.exists(walDirectory + "/" + entry) { unlink(recordDirectory + "/" + entry) }
        }
        TemporaryFileCleanup.removeAbandoned(in: recordDirectory)
    }

    /// Records are read, written and cleaned up only in a private directory (never through a
    /// symlink, never in one another user may write to); otherwise there is no push-ahead.
    private func recordDirectoryIsTrusted(create: Bool) -> Bool {
        WALDirectory(path: walDirectory).trustedStateDirectory("pushed", create: create) == recordDirectory
    }
}

/// What each push-ahead thread does: its own store, files from the queue until it is empty.
struct AheadPusher: Sendable {
    let configuration: Configuration
    /// The identity the call itself checked: a file of another system fails here and is left
    /// for PostgreSQL's own call, which reads the identity again and reports it.
    let archiveIdentity: ArchiveIdentity
    let walDirectory: String
    let recordDirectory: String
    let archiveTag: String

    func run(_ queue: SharedQueue<String>) {
        guard let store = try? configuration.destination.makeStore() else { return }
        let operation = ArchiveOperation(store: store, configuration: configuration, archiveIdentity: archiveIdentity,
                                         compressesWhileClaiming: false)
        while let name = queue.take() {
            // The store kept failing for a whole retry budget: stop, so that one call of
            // wal-push during an outage lasts one budget, not one per file pushed ahead.
            guard push(walDirectory + "/" + name, name: name, operation: operation) else {
                queue.stop()
                return
            }
        }
    }

    /// Errors are left for PostgreSQL's own call of this file, which reports them; false
    /// after a storage failure.
    private func push(_ path: String, name: String, operation: ArchiveOperation) -> Bool {
        // PostgreSQL never changes a file once it is .ready; should anything else, the
        // identity taken before the upload's one read of the file and after it tells, once
        // the file's last change is older than a timestamp tick (FileIdentity).
        guard let before = Self.settledIdentity(path) else { return true }
        let outcome: ArchiveOperation.Outcome
        let sha256Hex: String
        do {
            (outcome, sha256Hex) = try operation.archiveReportingChecksum(path: path)
        } catch {
            if case .storage = error { return false }
            return true
        }
        guard FileIdentity(path: path) == before else { return true }
        let key: String
        switch outcome {
        case .stored(let storedKey), .alreadyArchived(let storedKey): key = storedKey
        }
        let record = PushedRecord(name: name, identity: before, sha256Hex: sha256Hex, key: key)
        try? record.write(in: recordDirectory, archiveTag: archiveTag)
        return true
    }

    /// The file's identity once its last change is `settleNanoseconds` old, waiting at most
    /// that long (this thread runs beside the call's own upload, which takes longer); nil when
    /// the file's time is ahead of the clock: then no record is written.
    static func settledIdentity(_ path: String) -> FileIdentity? {
        guard let identity = FileIdentity(path: path) else { return nil }
        if identity.isSettled { return identity }
        guard identity.waitUntilSettled(), let settled = FileIdentity(path: path), settled == identity,
              settled.isSettled else { return nil }
        return settled
    }
}
