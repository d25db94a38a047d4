/// What an archive holds, read with one listing of its prefix (one LIST request per 1000
/// objects) and one GET per timeline history and backup history file: segments per timeline
/// with their gaps, timelines with their fork points, base backups, bytes per date. The basis
/// of `wal-archive list`, `verify`, `prune` and `status`.
///
/// It never trusts a key it does not understand: anything that is not a WAL file under a date
/// partition, `timelines/` or the legacy flat layout (the archive identity, objects of other
/// tools) is kept in `otherObjects`, and nothing acts on it.
public struct ArchiveInventory: Sendable {
    public struct BaseBackup: Sendable, Equatable {
        public var file: ArchivedFile
        public var history: BackupHistory
    }

    public struct DateUsage: Sendable, Equatable {
        public var date: String
        public var objects: Int
        public var storedBytes: Int64
    }

    /// A run of consecutive archived segments of one timeline.
    public struct SegmentRange: Sendable, Equatable {
        public var timeline: UInt32
        public var first: UInt64
        public var last: UInt64

        public init(timeline: UInt32, first: UInt64, last: UInt64) {
            self.timeline = timeline
            self.first = first
            self.last = last
        }

        public var count: UInt64 { last - first + 1 }
    }

    /// An object that could not be read or understood (a damaged history or backup history file).
    public struct Problem: Sendable, Equatable {
        public var key: String
        public var message: String
    }

    public var layout: StorageLayout
    public var segmentSize: WALSegmentSize
    /// Every WAL file object, in key order of their names (PostgreSQL's order).
    public var files: [ArchivedFile]
    public var histories: [UInt32: TimelineHistory]
    /// By start LSN, oldest first.
    public var backups: [BaseBackup]
    public var otherObjects: [ListedObject]
    /// The name claims (`names/<file name>`, see `NameClaim`): wal-push's own bookkeeping, not WAL
    /// and not foreign. A prune deletes a name's claim after its data.
    public var nameClaims: [ListedObject]
    public var problems: [Problem]

    /// Reads the archive. `segmentSize` comes from the archive identity when there is one;
    /// without it, the newest segment's `wal-size` metadata tells (one HEAD), else 16 MiB.
    public static func read(from store: any ObjectStore, layout: StorageLayout, segmentSize knownSize: WALSegmentSize?,
                            temporaryDirectory: String, decryption: ObjectDecryption = .none) throws(StorageError) -> ArchiveInventory {
        // One pass over the whole prefix, following the store's own pages: a server may end a
        // page before max-keys (Ceph's RGW does), and resuming from a fresh listing at every
        // 1000 entries would then cost a request more per short page.
        let listed = try store.listObjects(prefix: layout.root, startAfter: nil, limit: Int.max)
        var files: [ArchivedFile] = []
        var others: [ListedObject] = []
        var claims: [ListedObject] = []
        let claimFolder = layout.root + NameClaim.folder + "/"
        for object in listed {
            if let file = classify(object, layout: layout) {
                files.append(file)
            } else if object.key.hasPrefix(claimFolder) {
                claims.append(object)
            } else {
                others.append(object)
            }
        }
        files.sort { ($0.name, $0.key) < ($1.name, $1.key) }
        var segmentSize = knownSize ?? WALSegmentSize.postgresDefault
        if knownSize == nil, let newest = files.last(where: { $0.name.kind == .segment }),
           let text = try store.head(key: newest.key)?.metadata[PayloadMetadata.sizeName],
           let bytes = Int64(text), let size = WALSegmentSize(bytes: bytes) {
            segmentSize = size
        }
        var inventory = ArchiveInventory(layout: layout, segmentSize: segmentSize, files: files, histories: [:], backups: [],
                                         otherObjects: others, nameClaims: claims, problems: [])
        try inventory.readHistories(from: store, temporaryDirectory: temporaryDirectory, decryption: decryption)
        return inventory
    }

    /// The file a key holds, or nil for a key that is not a WAL file where the layout puts them.
    static func classify(_ object: ListedObject, layout: StorageLayout) -> ArchivedFile? {
        guard object.key.hasPrefix(layout.root) else { return nil }
        let relative = object.key.dropFirst(layout.root.count)
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let (name, suffix) = parseName(parts[0]), name.kind != .timelineHistory else { return nil }
            return ArchivedFile(name: name, key: object.key, date: nil, suffix: suffix, storedBytes: object.size,
                                lastModified: object.lastModified)
        case 2 where parts[0] == Substring(StorageLayout.timelinesFolder):
            guard let name = try? WALFileName(parsing: String(parts[1])), name.kind == .timelineHistory else { return nil }
            return ArchivedFile(name: name, key: object.key, date: nil, suffix: "", storedBytes: object.size,
                                lastModified: object.lastModified)
        case 2 where StorageLayout.isCalendarDate(parts[0]):
            guard let (name, suffix) = parseName(parts[1]), name.kind != .timelineHistory else { return nil }
            return ArchivedFile(name: name, key: object.key, date: String(parts[0]), suffix: suffix, storedBytes: object.size,
                                lastModified: object.lastModified)
        default:
            return nil
        }
    }

    private static func parseName(_ text: Substring) -> (WALFileName, String)? {
        for suffix in CompressionAlgorithm.allCases.map(\.keySuffix) where text.hasSuffix(suffix) {
            if let name = try? WALFileName(parsing: String(text.dropLast(suffix.count))) { return (name, suffix) }
        }
        return nil
    }

    private mutating func readHistories(from store: any ObjectStore, temporaryDirectory: String,
                                        decryption: ObjectDecryption) throws(StorageError) {
        for file in files where file.isTimelineHistory || file.name.kind.isBackupHistory {
            let text: [UInt8]
            do {
                text = try VerifiedDownload.contents(of: file, from: store, temporaryDirectory: temporaryDirectory,
                                                     decryption: decryption)
            } catch {
                switch error {
                case .storage(let storageError): throw storageError
                case .damaged(let message):
                    problems.append(Problem(key: file.key, message: message))
                    continue
                }
            }
            do throws(WALValidationError) {
                if file.isTimelineHistory {
                    histories[file.name.timeline] = try TimelineHistory(parsing: text, name: file.name)
                } else {
                    backups.append(BaseBackup(file: file, history: try BackupHistory(parsing: text, name: file.name)))
                }
            } catch {
                problems.append(Problem(key: file.key, message: error.message))
            }
        }
        backups.sort { ($0.history.startLSN, $0.file.key) < ($1.history.startLSN, $1.file.key) }
    }

    // MARK: - Views

    /// Complete segments, in PostgreSQL's order (a name stored twice appears twice).
    public var segments: [ArchivedFile] { files.filter { $0.name.kind == .segment } }

    /// The position of a segment from the start of WAL; nil for a name that cannot exist with
    /// this archive's segment size.
    public func number(of name: WALFileName) -> UInt64? {
        name.segmentNumber(segmentSize: segmentSize)
    }

    /// Segment numbers archived per timeline.
    public var segmentNumbers: [UInt32: Set<UInt64>] {
        var numbers: [UInt32: Set<UInt64>] = [:]
        for file in files where file.name.kind == .segment {
            if let number = number(of: file.name) { numbers[file.name.timeline, default: []].insert(number) }
        }
        return numbers
    }

    /// Runs of consecutive segments per timeline, oldest first; the space between two runs of
    /// a timeline is a gap.
    public var ranges: [SegmentRange] {
        var result: [SegmentRange] = []
        for (timeline, numbers) in segmentNumbers.sorted(by: { $0.key < $1.key }) {
            for number in numbers.sorted() {
                if let last = result.last, last.timeline == timeline, last.last + 1 == number {
                    result[result.count - 1].last = number
                } else {
                    result.append(SegmentRange(timeline: timeline, first: number, last: number))
                }
            }
        }
        return result
    }

    /// Objects and stored bytes per date partition, oldest first.
    public var usageByDate: [DateUsage] {
        var usage: [String: DateUsage] = [:]
        for file in files {
            guard let date = file.date else { continue }
            usage[date, default: DateUsage(date: date, objects: 0, storedBytes: 0)].objects += 1
            usage[date]?.storedBytes += file.storedBytes
        }
        return usage.values.sorted { $0.date < $1.date }
    }

    /// The segment name of `number` on `timeline`.
    public func segmentName(timeline: UInt32, number: UInt64) -> WALFileName? {
        WALFileName(timeline: timeline, segmentNumber: number, segmentSize: segmentSize)
    }

    /// The segment holding `lsn`.
    public func segmentNumber(containing lsn: UInt64) -> UInt64 {
        lsn / UInt64(segmentSize.bytes)
    }
}

extension WALFileName.Kind {
    var isBackupHistory: Bool {
        if case .backupHistory = self { return true }
        return false
    }
}
