/// The archive's state for monitoring (`wal-archive status`): its newest and oldest segments
/// and their age, counts and bytes, base backups, and segments missing from the chain a
/// recovery from the oldest base backup reads. Read from the listing alone (plus the small
/// history files): no segment is downloaded.
public struct ArchiveStatus: Sendable, Equatable {
    public var location: String
    public var time: UTCTime
    public var newestSegment: ArchivedFile?
    public var oldestSegment: ArchivedFile?
    public var segmentCount: Int
    /// Bytes of every WAL file object as stored.
    public var storedBytes: Int64
    public var usageByDate: [ArchiveInventory.DateUsage]
    public var backups: [ArchiveInventory.BaseBackup]
    /// The chain from the oldest backup (else the oldest segment) to the newest segment.
    public var chain: WALChain?
    public var problems: [String]

    public init(inventory: ArchiveInventory, location: String, time: UTCTime) {
        self.location = location
        self.time = time
        let segments = inventory.segments
        // Newest by WAL position; a newer timeline's segment at the same number is newer.
        newestSegment = segments.max { (inventory.number(of: $0.name) ?? 0, $0.name.timeline) < (inventory.number(of: $1.name) ?? 0, $1.name.timeline) }
        oldestSegment = segments.min { (inventory.number(of: $0.name) ?? 0, $0.name.timeline) < (inventory.number(of: $1.name) ?? 0, $1.name.timeline) }
        segmentCount = segments.count
        storedBytes = inventory.files.reduce(0) { $0 + $1.storedBytes }
        usageByDate = inventory.usageByDate
        backups = inventory.backups
        chain = try? WALChain(inventory: inventory, from: .oldest)
        problems = inventory.problems.map { "\($0.key): \($0.message)" } + (chain?.problems ?? [])
    }

    /// Seconds since the newest segment was stored.
    public var newestSegmentAge: Int64? {
        newestSegment?.lastModified.map { time.secondsSinceEpoch - $0.secondsSinceEpoch }
    }

    public var missingSegments: UInt64 { chain?.missingCount ?? 0 }
}
