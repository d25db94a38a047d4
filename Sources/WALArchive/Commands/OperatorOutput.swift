/// How the operators' commands print what they found: sizes, positions, times, names, and
/// the JSON shapes `--json` prints.
enum OperatorOutput {
    /// `812 B`, `1.4 MiB`, `3.0 GiB`.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static func lsn(_ value: UInt64) -> String {
        WALValidationError.lsn(value)
    }

    /// `2026-11-28T07:00:01Z`, or `unknown`.
    static func time(_ time: UTCTime?) -> String {
        time?.extendedISO8601 ?? "unknown"
    }

    /// `3 h 20 min`, `45 s`: an age for people.
    static func age(seconds: Int64) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7_200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3_600) h \(seconds % 3_600 / 60) min" }
        return "\(seconds / 86_400) days"
    }

    /// The names of segments `first…last` of a range: `A` or `A … B`.
    static func range(_ range: ArchiveInventory.SegmentRange, in inventory: ArchiveInventory) -> String {
        let first = inventory.segmentName(timeline: range.timeline, number: range.first)?.description ?? "?"
        guard range.last != range.first else { return first }
        return first + " … " + (inventory.segmentName(timeline: range.timeline, number: range.last)?.description ?? "?")
    }

    static func rangeJSON(_ range: ArchiveInventory.SegmentRange, in inventory: ArchiveInventory) -> JSONValue {
        .object([
            "timeline": .integer(Int64(range.timeline)),
            "first": .string(inventory.segmentName(timeline: range.timeline, number: range.first)?.description ?? ""),
            "last": .string(inventory.segmentName(timeline: range.timeline, number: range.last)?.description ?? ""),
            "count": .integer(Int64(range.count)),
        ])
    }

    static func backupJSON(_ backup: ArchiveInventory.BaseBackup) -> JSONValue {
        .object([
            "label": .string(backup.history.label),
            "file": .string(backup.file.name.description),
            "key": .string(backup.file.key),
            "start_lsn": .string(lsn(backup.history.startLSN)),
            "start_segment": .string(backup.history.startSegment.description),
            "stop_lsn": .string(lsn(backup.history.stopLSN)),
            "stop_segment": .string(backup.history.stopSegment.description),
            "start_time": .string(backup.history.startTime),
            "stop_time": .string(backup.history.stopTime),
        ])
    }

    /// One line per backup: label, start and stop, times.
    static func backupLine(_ backup: ArchiveInventory.BaseBackup) -> String {
        let history = backup.history
        return "\"\(history.label)\"  start \(lsn(history.startLSN)) (\(history.startSegment))  stop \(lsn(history.stopLSN)) "
            + "(\(history.stopSegment))  \(history.startTime) … \(history.stopTime)"
    }

    static func dateJSON(_ usage: ArchiveInventory.DateUsage) -> JSONValue {
        .object(["date": .string(usage.date), "objects": .integer(Int64(usage.objects)),
                 "stored_bytes": .integer(usage.storedBytes)])
    }

    static func identityJSON(_ identity: ArchiveIdentity?) -> JSONValue {
        guard let identity else { return .null }
        return .object([
            "system_identifier": .string(String(identity.systemIdentifier)),
            "postgresql_major_version": .integer(Int64(identity.postgresMajorVersion)),
            "wal_segment_size": .integer(Int64(identity.walSegmentSize.bytes)),
            "created": .string(identity.created),
        ])
    }

    /// Prints `text` on stdout as one write.
    static func print(_ text: String) {
        Swift.print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}
