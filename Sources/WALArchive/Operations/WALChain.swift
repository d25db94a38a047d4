/// The segments a recovery from a start point to the newest archived WAL reads, and which of
/// them the archive lacks. Timelines are followed as PostgreSQL follows them with
/// `recovery_target_timeline = 'latest'`: the newest timeline whose history descends from the
/// start point; each segment is read from the newest timeline of that history that had begun
/// by the segment (xlogrecovery.c, XLogFileReadAnyTLI), so the segment holding a fork point
/// comes from the new timeline.
public struct WALChain: Sendable, Equatable {
    /// Where a recovery starts.
    public enum StartPoint: Sendable, Equatable {
        /// The oldest base backup's start, else the oldest segment.
        case oldest
        case segment(WALFileName)
        case lsn(UInt64)
        /// A base backup, by its label or its backup history file's name.
        case backup(String)
    }

    /// Segment numbers `first...last` (`last` nil: open) read from `timeline`.
    public struct Step: Sendable, Equatable {
        public var timeline: UInt32
        public var first: UInt64
        public var last: UInt64?

        public init(timeline: UInt32, first: UInt64, last: UInt64?) {
            self.timeline = timeline
            self.first = first
            self.last = last
        }
    }

    public var startTimeline: UInt32
    public var startNumber: UInt64
    public var steps: [Step]
    /// The newest segment the chain reaches (nil: nothing archived at or after the start).
    public var endNumber: UInt64?
    /// Runs of segments the chain needs that are not archived.
    public var missing: [ArchiveInventory.SegmentRange]
    /// Problems beyond missing segments: a backup the archive does not reach the end of, a
    /// newer timeline that cannot be followed.
    public var problems: [String]
    /// The base backup the chain starts at, if it starts at one.
    public var backup: ArchiveInventory.BaseBackup?

    public var targetTimeline: UInt32 { steps.last?.timeline ?? startTimeline }

    public var missingCount: UInt64 { missing.reduce(0) { $0 + $1.count } }

    /// Segments from the start to the end, one per number.
    public var length: UInt64 { endNumber.map { $0 >= startNumber ? $0 - startNumber + 1 : 0 } ?? 0 }

    /// The timeline segment `number` is read from.
    public func timeline(of number: UInt64) -> UInt32 {
        steps.last { $0.first <= number }?.timeline ?? startTimeline
    }

    public init(inventory: ArchiveInventory, from start: StartPoint) throws(WALChainError) {
        var startLSN: UInt64
        problems = []
        backup = nil
        switch start {
        case .oldest:
            if let oldest = inventory.backups.first {
                backup = oldest
                startTimeline = oldest.history.startSegment.timeline
                startLSN = oldest.history.startLSN
            } else if let oldest = inventory.segments.first, let number = inventory.number(of: oldest.name) {
                startTimeline = oldest.name.timeline
                startLSN = number * UInt64(inventory.segmentSize.bytes)
            } else {
                throw .emptyArchive
            }
        case .segment(let name):
            guard name.kind == .segment, let number = inventory.number(of: name) else { throw .notASegment(name.description) }
            startTimeline = name.timeline
            startLSN = number * UInt64(inventory.segmentSize.bytes)
        case .lsn(let lsn):
            startLSN = lsn
            // The timeline that held this LSN on the newest history: the one whose range covers it.
            startTimeline = Self.newestTimeline(inventory)
            if let history = inventory.histories[startTimeline] {
                startTimeline = history.entries.first { lsn < $0.switchLSN }?.parent ?? startTimeline
            }
        case .backup(let wanted):
            let matches = inventory.backups.filter { $0.history.label == wanted || $0.file.name.description == wanted }
            guard let found = matches.last else { throw .unknownBackup(wanted) }
            backup = found
            startTimeline = found.history.startSegment.timeline
            startLSN = found.history.startLSN
        }
        startNumber = inventory.segmentNumber(containing: startLSN)

        // The newest timeline descending from the start point.
        var target = startTimeline
        for (timeline, history) in inventory.histories where timeline > target {
            if let switchLSN = history.switchLSN(leaving: startTimeline), switchLSN > startLSN { target = timeline }
        }
        var steps: [Step] = []
        if let history = inventory.histories[target], target != startTimeline {
            var first = startNumber
            var following = false
            for entry in history.entries {
                following = following || entry.parent == startTimeline
                guard following else { continue }
                let next = inventory.segmentNumber(containing: entry.switchLSN)
                if next > first { steps.append(Step(timeline: entry.parent, first: first, last: next - 1)) }
                first = max(first, next)
            }
            steps.append(Step(timeline: target, first: first, last: nil))
        } else {
            steps.append(Step(timeline: startTimeline, first: startNumber, last: nil))
        }
        self.steps = steps

        // The end: the newest segment archived within the chain's steps.
        let archived = inventory.segmentNumbers
        var end: UInt64?
        for step in steps {
            let within = (archived[step.timeline] ?? []).filter { number in
                number >= step.first && (step.last.map { number <= $0 } ?? true)
            }
            if let newest = within.max() { end = max(end ?? newest, newest) }
        }
        endNumber = end
        var missing: [ArchiveInventory.SegmentRange] = []
        if let end, end >= startNumber {
            for number in startNumber...end {
                let timeline = steps.last { $0.first <= number }?.timeline ?? startTimeline
                guard !(archived[timeline]?.contains(number) ?? false) else { continue }
                if let last = missing.last, last.timeline == timeline, last.last + 1 == number {
                    missing[missing.count - 1].last = number
                } else {
                    missing.append(.init(timeline: timeline, first: number, last: number))
                }
            }
        }
        self.missing = missing

        if let backup {
            let stopNumber = inventory.number(of: backup.history.stopSegment) ?? 0
            if (end ?? 0) < stopNumber || end == nil {
                problems.append("the archive ends before \(backup.history.stopSegment), where base backup "
                                + "\"\(backup.history.label)\" becomes consistent: a recovery from it cannot finish")
            }
        }
        for (timeline, _) in archived where timeline > target && inventory.histories[timeline] == nil {
            problems.append("timeline \(timeline) has archived segments but no history file "
                            + "(\(inventory.layout.historyKey(name: WALFileName.hex8(timeline) + ".history"))): "
                            + "a recovery cannot follow it")
        }
        problems.sort()
    }

    /// The highest timeline with a history file or segments.
    static func newestTimeline(_ inventory: ArchiveInventory) -> UInt32 {
        max(inventory.histories.keys.max() ?? 1, inventory.segments.last?.name.timeline ?? 1)
    }
}

public enum WALChainError: Error, Sendable, Equatable {
    case emptyArchive
    case notASegment(String)
    case unknownBackup(String)

    public var message: String {
        switch self {
        case .emptyArchive: return "the archive holds no segment and no base backup"
        case .notASegment(let name): return "\(name) is not a complete segment's name for this archive's segment size"
        case .unknownBackup(let wanted):
            return "no base backup labelled or named \(WALFileNameError.quoted(wanted)) in the archive; `wal-archive list` shows them"
        }
    }
}
