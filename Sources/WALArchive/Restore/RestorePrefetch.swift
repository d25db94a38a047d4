import Glibc

/// Restore prefetch for `wal-fetch`: while PostgreSQL replays segment N, a detached worker
/// downloads N+1 … N+K of the same timeline into `pg_wal/.wal-archive/prefetch/`, and the
/// following calls take their segment from there with a rename instead of a download.
///
/// A prefetched file is named `<segment>.<archive tag>.<SHA-256>`: it was verified against the
/// archive's `wal-sha256` when downloaded. It is served without reading its bytes again only
/// when the worker's `PrefetchRecord` proves it the very file the worker verified, in this
/// boot (see there why that is safe); otherwise (no record yet, another boot, a changed file,
/// a record that does not parse) it is verified again (size, SHA-256), since a crash may have
/// torn it or something may have changed it. Either way its WAL page header is checked before
/// it is served (one read of its first bytes); anything that fails is removed and the segment
/// is fetched normally. The foreground takes a file only by renaming it away first, so it
/// never races the worker over a half-written name (the worker writes a temporary file and
/// renames it into place).
///
/// Only during PostgreSQL's own archive recovery: `%p` is `pg_wal/RECOVERYXLOG` (the name the
/// startup process always restores into) and `recovery.signal` or `standby.signal` is in the
/// data directory. `pg_rewind --restore-target-wal` passes `pg_wal/<segment name>` as `%p`,
/// so it never starts a worker that could leave files behind for it to copy; other callers
/// (scripts, tests) never do either.
public struct RestorePrefetch: Sendable {
    static let recoveryFileName = "RECOVERYXLOG"

    /// Segments to keep ahead (K).
    public let count: Int
    /// K counts 16 MiB segments, as the configuration's prefetch setting does: see
    /// `window(segmentSize:)`. False: K segments whatever their size.
    public let countsDefaultSizeSegments: Bool
    public let fileName: WALFileName
    public let destination: String
    public let walDirectory: WALDirectory
    /// `pg_wal/.wal-archive/prefetch`.
    public let directory: String
    /// `pg_wal/.wal-archive/prefetch-records`.
    public let recordsDirectory: String
    /// The store the prefetched files come from; its tag is in their names.
    public let storeIdentity: StoreIdentity
    let archiveTag: String

    /// Nil when prefetch does not apply to this call (off, not a segment, not PostgreSQL's
    /// archive recovery).
    public init?(count: Int, name: String, destination: String, storeIdentity: StoreIdentity,
                 countsDefaultSizeSegments: Bool = false) {
        guard count > 0, let fileName = try? WALFileName(parsing: name), fileName.kind == .segment,
              FileOperations.baseName(destination) == Self.recoveryFileName else { return nil }
        let walDirectory = WALDirectory(containing: destination)
        // The prefetch directory is used only as a private directory of this user: a symlink
        // (or another user's directory) is never followed, prefetch is skipped instead.
        guard walDirectory.isPGWAL, walDirectory.recoveryState.isRecovering,
              walDirectory.trustedStateDirectory("prefetch", create: true) != nil else { return nil }
        self.count = count
        self.countsDefaultSizeSegments = countsDefaultSizeSegments
        self.fileName = fileName
        self.destination = destination
        self.walDirectory = walDirectory
        self.directory = walDirectory.prefetchDirectory
        self.recordsDirectory = walDirectory.prefetchRecordsDirectory
        self.storeIdentity = storeIdentity
        self.archiveTag = storeIdentity.tag
    }

    public init?(configuration: Configuration, name: String, destination: String) {
        self.init(count: configuration.prefetchCount, name: name, destination: destination,
                  storeIdentity: configuration.storeIdentity, countsDefaultSizeSegments: true)
    }

    // MARK: Serving

    /// A segment served from the prefetch directory.
    public struct Served: Sendable, Equatable {
        /// From the served file's long page header.
        public var segmentSize: WALSegmentSize
        /// True when its record proved it the file the worker verified, so its bytes were not
        /// read again; false when it was verified in full.
        public var trustedByRecord: Bool
        /// The files of the window after it that were in the prefetch directory when it was
        /// listed to find this one (`readyCount`): whether a worker is needed.
        public var readyAhead: Int
    }

    /// Moves the prefetched copy of the requested segment to `%p` if there is one and it
    /// verifies, keeping a link of it for a second request; nil on a miss (a bad copy is removed).
    ///
    /// `%p` is exactly as durable as a downloaded one: renamed into place without an fsync,
    /// as `VerifyingFileSink.commit` does and says why (PostgreSQL fsyncs what it keeps).
    public func serve() -> Served? {
        // One listing of the prefetch directory per call, however many files the window
        // holds: it removes the abandoned temporary files there (the cleanup's share), finds
        // the segment, and counts the files ahead for the worker. A file a worker adds after
        // it is not counted: at worst a worker is started that finds the window full.
        walDirectory.cleanUpBeforeRestore(exceptPrefetchDirectory: true)
        guard let names = try? FileOperations.directoryEntries(directory) else { return nil }
        if walDirectory.trustedStateDirectory("prefetch", create: false) == directory {
            TemporaryFileCleanup.removeAbandoned(in: directory, names: names)
        }
        let wanted = fileName.description + "." + archiveTag + "."
        guard let name = names.first(where: { $0.hasPrefix(wanted) }) else { return nil }
        let expectedSHA256 = String(name.dropFirst(wanted.count))
        let path = directory + "/" + name
        // The record is compared with the file before the claim below, whose rename sets the
        // file's status-change time; after it, the file must still be that inode, with that
        // size and modification time. What the rename could hide is a write in the
        // microseconds between the stat and the rename, by a process of this user in its
        // private directory: the same residue as the tick of the worker's own rename
        // (PrefetchRecord).
        let record = walDirectory.trustedStateDirectory("prefetch-records", create: false) == recordsDirectory
            ? PrefetchRecord.take(fileName: name, in: recordsDirectory, archiveTag: archiveTag) : nil
        let vouched = record?.vouches(for: name, identity: FileIdentity(path: path), bootIdentifier: BootIdentifier.current) ?? false
        let claimed = TemporaryFileCleanup.track(in: walDirectory.path)
        defer { TemporaryFileCleanup.untrack() }
        // Whoever renames it first owns it; the loser sees ENOENT and fetches normally.
        guard rename(path, claimed) == 0 else { return nil }
        let trusted = vouched && record.map { FileIdentity(path: claimed)?.isSameFile(renamedFrom: $0.identity) ?? false } ?? false
        guard hasNoOtherNames(claimed),
              trusted || (expectedSHA256.count == 64 && SHA256Hasher.hexDigest(ofFile: claimed) == expectedSHA256),
              let validated = try? WALFileValidator.validate(path: claimed, as: fileName),
              let header = validated.header, let segmentSize = WALSegmentSize(bytes: header.segmentSize) else {
            unlink(claimed)
            return nil
        }
        // The served file stays in the prefetch directory under its name, a second link to the
        // inode `%p` gets (no copy): at promotion PostgreSQL asks again for the last segment it
        // restored, and then finds it here instead of downloading it again. Serving it again is
        // as safe as the first time, since it passes the same checks as any prefetched file:
        // its record was used up above (and the link changed its ctime, so no record can vouch
        // for it again), so its SHA-256 is verified in full against the one in its name, then
        // its WAL header; and it must have no name but its own and this segment's (above):
        // PostgreSQL renames `%p` to `pg_wal/<segment>`, may later recycle that file under a
        // future segment's name and write new WAL into it, and such a file is never served.
        // A failed link only costs that second download.
        _ = link(claimed, path)
        // A second link of the same inode at `%p` (a caller that did not remove it first) would
        // make the rename a no-op that leaves the temporary name: remove it first. `%p` is then
        // absent, never partial.
        if let served = Self.inode(destination), let claimedInode = Self.inode(claimed), served == claimedInode {
            unlink(destination)
        }
        guard rename(claimed, destination) == 0 else {
            unlink(claimed)
            return nil
        }
        removeEarlierSegments(among: names)
        return Served(segmentSize: segmentSize, trustedByRecord: trusted,
                      readyAhead: readyCount(among: names, segmentSize: segmentSize))
    }

    /// Whether the claimed file (renamed out of the prefetch directory, so that name is gone)
    /// has no other name than `%p` or `pg_wal/<this segment>`: the names PostgreSQL gave the
    /// inode when it was served before. Any other name (a recycled segment file, whatever links
    /// it elsewhere) could be written through while PostgreSQL reads it.
    private func hasNoOtherNames(_ claimed: String) -> Bool {
        var info = stat()
        guard lstat(claimed, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        if info.st_nlink == 1 { return true }
        let claimedInode = Inode(device: UInt64(info.st_dev), number: UInt64(info.st_ino))
        let ownNames = [destination, walDirectory.path + "/" + fileName.description].filter { Self.inode($0) == claimedInode }
        return Int(info.st_nlink) == 1 + ownNames.count
    }

    private struct Inode: Equatable {
        var device: UInt64
        var number: UInt64
    }

    /// The entry itself (never a symlink's target).
    private static func inode(_ path: String) -> Inode? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Inode(device: UInt64(info.st_dev), number: UInt64(info.st_ino))
    }

    /// The files of this archive's segments before the one just served, on its timeline: the
    /// segment served before it (kept for a second request), or leftovers. PostgreSQL asks for
    /// an earlier segment again only after a restart of recovery, which a download serves.
    private func removeEarlierSegments(among names: [String]) {
        let requested = fileName.description
        let separatedTag = "." + archiveTag + "."
        for name in names where name.count > requested.count && name.hasPrefix(requested.prefix(8)) {
            let segment = name.prefix(requested.count)
            guard segment < requested[...], name.dropFirst(requested.count).hasPrefix(separatedTag) else { continue }
            unlink(directory + "/" + name)
        }
    }

    /// The segment size from the long page header of the file just restored to `%p`.
    public func restoredSegmentSize() -> WALSegmentSize? {
        guard let header = (try? WALFileValidator.validate(path: destination, as: fileName))?.header else { return nil }
        return WALSegmentSize(bytes: header.segmentSize)
    }

    // MARK: The worker's batch

    /// Segments of `segmentSize` to keep ahead: K; when K counts default-size segments, K with
    /// 16 MiB segments or larger ones, and as many smaller ones as hold the same bytes
    /// (K × 16 with 1 MiB).
    /// The window covers the store's round trips while replay consumes WAL, and replay
    /// consumes bytes: eight 1 MiB segments are replayed in a few tens of milliseconds, less
    /// than one refill takes with the store 20 ms away, and replay would wait for each refill.
    public func window(segmentSize: WALSegmentSize) -> Int {
        let defaultBytes = WALSegmentSize.postgresDefault.bytes
        guard countsDefaultSizeSegments, segmentSize.bytes < defaultBytes else { return count }
        return count * Int(defaultBytes / segmentSize.bytes)
    }

    /// The segments the worker should hold: the window after the requested one.
    public func wantedSegments(segmentSize: WALSegmentSize) -> [WALFileName] {
        var names: [WALFileName] = []
        var current = fileName
        let window = window(segmentSize: segmentSize)
        while names.count < window, let next = current.nextSegment(segmentSize: segmentSize) {
            names.append(next)
            current = next
        }
        return names
    }

    /// How many of the wanted segments are already in the prefetch directory.
    public func readyCount(segmentSize: WALSegmentSize) -> Int {
        guard let names = try? FileOperations.directoryEntries(directory) else { return 0 }
        return readyCount(among: names, segmentSize: segmentSize)
    }

    /// How many of `names` (entries of the prefetch directory) are files of the wanted segments
    /// from this archive. The wanted segments are consecutive segments of one timeline, whose
    /// names (fixed-width upper-case hex) sort as strings in segment order: a name is wanted
    /// when it lies between the first and the last, so the window's names need not be made.
    func readyCount(among names: [String], segmentSize: WALSegmentSize) -> Int {
        let window = window(segmentSize: segmentSize)
        guard window > 0, let number = fileName.segmentNumber(segmentSize: segmentSize),
              let first = WALFileName(timeline: fileName.timeline, segmentNumber: number + 1, segmentSize: segmentSize),
              let last = WALFileName(timeline: fileName.timeline, segmentNumber: number + UInt64(window), segmentSize: segmentSize)
                ?? wantedSegments(segmentSize: segmentSize).last else { return 0 }
        let lowest = Array(first.description.utf8), highest = Array(last.description.utf8)
        let separatedTag = Array(("." + archiveTag + ".").utf8)
        func isUpperHex(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (65...70).contains(byte) }
        return names.reduce(0) { count, name in
            let bytes = Array(name.utf8)
            guard bytes.count > lowest.count + separatedTag.count,
                  bytes[lowest.count...].starts(with: separatedTag) else { return count }
            let segment = bytes[..<lowest.count]
            guard segment.allSatisfy(isUpperHex), !segment.lexicographicallyPrecedes(lowest),
                  !highest.lexicographicallyPrecedes(segment) else { return count }
            return count + 1
        }
    }

    /// Removes everything in the prefetch directory that is not a complete file of one of
    /// `wanted` for this archive (other timelines, older segments, other archives, leftovers
    /// of a killed worker), and the records of files no longer there; returns the names of
    /// the wanted segments already present. The file of the requested segment itself stays
    /// too (not its record: it is verified in full if served): it is the one just served, kept
    /// for PostgreSQL's second request (see `serve`).
    @discardableResult
    public func removeUnwanted(keeping wanted: [WALFileName]) -> Set<String> {
        let wantedNames = Set(wanted.map(\.description))
        var present: Set<String> = []
        var kept: Set<String> = []
        var keptServed = false
        guard let names = try? FileOperations.directoryEntries(directory) else { return present }
        for name in names {
            let fields = name.split(separator: ".", omittingEmptySubsequences: false)
            if name.hasPrefix(TemporaryFileCleanup.prefix) {
                continue
            }
            if fields.count == 3, fields[1] == archiveTag, fields[2].count == 64 {
                if wantedNames.contains(String(fields[0])), !present.contains(String(fields[0])) {
                    present.insert(String(fields[0]))
                    kept.insert(name)
                    continue
                }
                if fields[0] == fileName.description, !keptServed {
                    keptServed = true
                    continue
                }
            }
            unlink(directory + "/" + name)
        }
        TemporaryFileCleanup.removeAbandoned(in: directory)
        if walDirectory.trustedStateDirectory("prefetch-records", create: false) == recordsDirectory,
           let records = try? FileOperations.directoryEntries(recordsDirectory) {
            for name in records where !name.hasPrefix(TemporaryFileCleanup.prefix) && !kept.contains(name) {
                unlink(recordsDirectory + "/" + name)
            }
            TemporaryFileCleanup.removeAbandoned(in: recordsDirectory)
        }
        return present
    }

}
