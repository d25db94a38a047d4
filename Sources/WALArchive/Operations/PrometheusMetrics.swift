/// The archive's status in Prometheus' text exposition format (version 0.0.4), for
/// node_exporter's textfile collector: one gauge per line, each labelled with the archive.
/// Written atomically (a temporary file renamed into place), so the collector never reads a
/// half-written file; a failed status run writes `wal_archive_up 0`, so that alerts fire
/// on an archive that cannot be read rather than on stale numbers.
public struct PrometheusMetrics: Sendable, Equatable {
    public private(set) var text = ""
    private let labels: String

    public init(location: String) {
        labels = "{archive=\"" + Self.escapeLabel(location) + "\"}"
    }

    public init(status: ArchiveStatus) {
        self.init(location: status.location)
        gauge("wal_archive_up", "1 if the last status run could read the archive, else 0", 1)
        gauge("wal_archive_status_timestamp_seconds", "When the status run read the archive", status.time.secondsSinceEpoch)
        if let newest = status.newestSegment?.lastModified {
            gauge("wal_archive_newest_segment_timestamp_seconds", "When the newest segment (by WAL position) was stored",
                  newest.secondsSinceEpoch)
        }
        if let oldest = status.oldestSegment?.lastModified {
            gauge("wal_archive_oldest_segment_timestamp_seconds", "When the oldest segment (by WAL position) was stored",
                  oldest.secondsSinceEpoch)
        }
        gauge("wal_archive_segments", "Complete WAL segments archived", Int64(status.segmentCount))
        gauge("wal_archive_stored_bytes", "Bytes of WAL files as stored (compressed)", status.storedBytes)
        gauge("wal_archive_base_backups", "Base backups with a backup history file in the archive", Int64(status.backups.count))
        if let newestBackup = status.backups.last?.file.lastModified {
            gauge("wal_archive_newest_base_backup_timestamp_seconds", "When the newest base backup's history file was stored",
                  newestBackup.secondsSinceEpoch)
        }
        gauge("wal_archive_missing_segments",
              "Segments missing between the oldest base backup's start and the newest segment", Int64(status.missingSegments))
        gauge("wal_archive_problems", "Unreadable history files, unfollowable timelines, backups the archive does not complete",
              Int64(status.problems.count))
        if let timeline = status.chain?.targetTimeline {
            gauge("wal_archive_timeline", "The newest timeline a recovery follows", Int64(timeline))
        }
    }

    /// What a status run that could not read the archive writes.
    public static func unreachable(location: String, time: UTCTime) -> PrometheusMetrics {
        var metrics = PrometheusMetrics(location: location)
        metrics.gauge("wal_archive_up", "1 if the last status run could read the archive, else 0", 0)
        metrics.gauge("wal_archive_status_timestamp_seconds", "When the status run read the archive", time.secondsSinceEpoch)
        return metrics
    }

    private mutating func gauge(_ name: String, _ help: String, _ value: Int64) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name)\(labels) \(value)\n"
    }

    /// Writes the file for the textfile collector: atomically, readable by the collector.
    public func write(to path: String) throws(FileOperations.Failure) {
        try FileOperations.writeAtomically(Array(text.utf8), to: path, durable: false, permissions: 0o644)
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
