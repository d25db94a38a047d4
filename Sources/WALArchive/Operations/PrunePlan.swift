/// What `wal-archive prune` deletes: WAL no recovery from a kept base backup reads. A recovery
/// starts at its backup's start segment and only reads forward, so every segment, `.partial`
/// and backup history file whose segment number is below the oldest kept backup's start
/// segment can go, on every timeline. Never deleted: timeline history files (tiny, and needed
/// to follow any timeline), the backup history files of kept backups (at or after that
/// segment by their name), and every object that is not a WAL file (the archive identity,
/// other tools' objects).
public struct PrunePlan: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        /// Keep the newest N base backups.
        case keepBackups(Int)
        /// Delete WAL of date partitions before this date (YYYY-MM-DD), but never what the
        /// backups started on or after it need; when none did, what the newest one needs.
        case before(String)
    }

    public var rule: Rule
    /// Oldest first.
    public var keptBackups: [ArchiveInventory.BaseBackup]
    /// The oldest kept backup's start segment: nothing at or after its number is deleted.
    public var keepFrom: WALFileName
    /// In key order of names (oldest WAL first).
    public var deletions: [ArchivedFile]
    /// The name claims (`NameClaim`) of names no object holds once `deletions` are gone: also
    /// those an interrupted prune left behind. Deleted after the data, so that a claim never
    /// goes while its name is still stored (a cold fetch finds a claimed name by its claim).
    public var claimDeletions: [String]

    /// Keys per batch delete: what one S3 DeleteObjects request takes.
    static let batchSize = 1000

    public var storedBytes: Int64 { deletions.reduce(0) { $0 + $1.storedBytes } }

    public init(inventory: ArchiveInventory, rule: Rule) throws(PruneError) {
        // A backup whose history file cannot be read might be the one to keep: its start is unknown.
        let unreadable = inventory.problems.filter { problem in
            inventory.files.contains { $0.key == problem.key && $0.name.kind.isBackupHistory }
        }
        guard unreadable.isEmpty else { throw .unreadableBackups(unreadable.map(\.key)) }
        let backups = inventory.backups
        guard let newest = backups.last else { throw .noBackups }
        self.rule = rule
        switch rule {
        case .keepBackups(let count):
            guard count >= 1 else { throw .invalidCount(count) }
            keptBackups = Array(backups.suffix(count))
        case .before(let date):
            guard StorageLayout.isCalendarDate(Substring(date)) else { throw .invalidDate(date) }
            let recent = backups.filter { ($0.file.effectiveDate ?? "") >= date }
            keptBackups = recent.isEmpty ? [newest] : recent
        }
        let oldestKept = keptBackups.min { $0.history.startLSN < $1.history.startLSN } ?? newest
        keepFrom = oldestKept.history.startSegment
        guard let limit = inventory.number(of: keepFrom) else { throw .invalidStart(keepFrom.description) }
        let keptKeys = Set(keptBackups.map(\.file.key))
        deletions = inventory.files.filter { file in
            guard !file.isTimelineHistory, !keptKeys.contains(file.key),
                  let number = inventory.number(of: file.name), number < limit else { return false }
            if case .before(let date) = rule {
                guard let fileDate = file.effectiveDate, fileDate < date else { return false }
            }
            return true
        }
        let deletedKeys = Set(deletions.map(\.key))
        let storedNames = Set(inventory.files.filter { !deletedKeys.contains($0.key) }.map(\.name.description))
        let claimFolder = NameClaim.key(name: "", layout: inventory.layout)
        claimDeletions = inventory.nameClaims.map(\.key).filter { key in
            guard key.hasPrefix(claimFolder), let name = try? WALFileName(parsing: String(key.dropFirst(claimFolder.count))),
                  name.kind != .timelineHistory, let number = inventory.number(of: name), number < limit else { return false }
            return !storedNames.contains(name.description)
        }
    }

    /// Deletes the planned objects in batches (one request each on S3), oldest first, so an
    /// interrupted run leaves the newest WAL in place; then, in batches of their own, the claims
    /// of the names whose data is gone (`claims(after:)`). Returns what the store refused.
    public func execute(on store: any ObjectStore) throws(StorageError) -> [DeleteFailure] {
        let failures = try Self.delete(deletions.map(\.key), from: store)
        return failures + (try Self.delete(claims(after: failures), from: store))
    }

    /// The claims to delete once the data deletions ended with `failures`: a name whose data
    /// the store refused to delete keeps its claim. Without its claim the name could be
    /// stored again under another date or suffix with other content, beside the data left
    /// (the claim is what makes wal-push refuse that), so a claim only goes after its data.
    public func claims(after failures: [DeleteFailure]) -> [String] {
        let refused = Set(failures.map(\.key))
        let stillStored = Set(deletions.filter { refused.contains($0.key) }.map(\.name.description))
        return claimDeletions.filter { !stillStored.contains(FileOperations.baseName($0)) }
    }

    private static func delete(_ keys: [String], from store: any ObjectStore) throws(StorageError) -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(keys.count, start + batchSize)])
            start += batch.count
            failures += try store.delete(keys: batch)
        }
        return failures
    }
}

public enum PruneError: Error, Sendable, Equatable {
    case noBackups
    case unreadableBackups([String])
    case invalidCount(Int)
    case invalidDate(String)
    case invalidStart(String)

    public var message: String {
        switch self {
        case .noBackups:
            return "the archive holds no base backup (no .backup file): nothing is known to be unneeded, nothing was deleted"
        case .unreadableBackups(let keys):
            return "cannot read the backup history file(s) \(keys.joined(separator: ", ")): where those backups start is "
                + "unknown, so nothing was deleted; `wal-archive verify` shows why"
        case .invalidCount(let count): return "--keep-backups must be at least 1, not \(count)"
        case .invalidDate(let date): return "--before takes a date YYYY-MM-DD, not \(WALFileNameError.quoted(date))"
        case .invalidStart(let name): return "the kept backup starts at \(name), which cannot exist with this segment size"
        }
    }
}
