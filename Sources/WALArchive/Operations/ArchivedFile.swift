/// One object of the archive that holds a PostgreSQL file (a segment, a `.partial`, a backup
/// history or a timeline history file), as a listing shows it: where it is and what it takes,
/// never its content.
public struct ArchivedFile: Sendable, Equatable {
    public var name: WALFileName
    public var key: String
    /// The date partition, or nil for `timelines/` and the legacy flat layout.
    public var date: String?
    /// The compression suffix of the key (`.zst`, `.gz` or empty).
    public var suffix: String
    /// Bytes as stored.
    public var storedBytes: Int64
    public var lastModified: UTCTime?

    public init(name: WALFileName, key: String, date: String?, suffix: String, storedBytes: Int64, lastModified: UTCTime?) {
        self.name = name
        self.key = key
        self.date = date
        self.suffix = suffix
        self.storedBytes = storedBytes
        self.lastModified = lastModified
    }

    /// True for an object of the legacy flat layout (`<prefix>/<name>[suffix]`).
    public var isLegacyFlat: Bool { date == nil && !isTimelineHistory }

    public var isTimelineHistory: Bool {
        if case .timelineHistory = name.kind { return true }
        return false
    }

    /// The date it counts for in retention: its partition, else the day the store last wrote it.
    public var effectiveDate: String? { date ?? lastModified?.calendarDate }
}
