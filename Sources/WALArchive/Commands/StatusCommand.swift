/// `wal-archive status`: the archive's state for people and for monitoring.
enum StatusCommand: OperatorSubcommand {
    static let name = "status"
    static let summary = "newest segment and its age, counts and bytes per day, base backups, gaps; Prometheus metrics"
    static let options = [CommandOption("json", flag: true), CommandOption("prometheus")]
    static let usage = """
        Usage: wal-archive status [options] [--json] [--prometheus FILE]
        Shows the newest archived segment and how long ago it was stored, the oldest, segments and
        bytes per day, base backups, and how many segments a recovery from the oldest base backup
        would miss. Reads one listing (one request per 1000 objects) and the history and backup
        history files; downloads no segment.

          --json              the same as one JSON document
          --prometheus FILE   also write the metrics in Prometheus' text format to FILE, atomically
                              (for node_exporter's textfile collector: FILE in its directory,
                              named *.prom); when the archive cannot be read, FILE says
                              wal_archive_up 0. Alert rules: docs/alert-rules.yml

        Exit status: 0 read; 1 storage failure (FILE then holds wal_archive_up 0); 2 usage or
        configuration error.

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive status"
        let metricsFile = options.commandValues["prometheus"]
        var location: String?
        do throws(OperatorFailure) {
            location = try? Configuration.load(options: options, environment: environment).storeIdentity.url
            let archive = try OperatorArchive.open(options, environment: environment)
            let status = ArchiveStatus(inventory: archive.inventory, location: archive.url, time: UTCTime.now())
            if let metricsFile {
                do {
                    try PrometheusMetrics(status: status).write(to: metricsFile)
                } catch {
                    throw .failed(.usageError, "cannot write the metrics file: \(error.message)")
                }
            }
            OperatorOutput.print(options.commandValues["json"] != nil ? json(status, archive) : text(status, archive))
            return OperatorExitStatus.success.rawValue
        } catch {
            if let metricsFile, let location, case .failed(.storageFailure, _) = error {
                try? PrometheusMetrics.unreachable(location: location, time: UTCTime.now()).write(to: metricsFile)
            }
            return error.report(program: program)
        }
    }

    static func text(_ status: ArchiveStatus, _ archive: OperatorArchive) -> String {
        var lines = [archive.heading]
        if let newest = status.newestSegment {
            let age = status.newestSegmentAge.map { " (\(OperatorOutput.age(seconds: $0)) ago)" } ?? ""
            lines.append("newest segment   \(newest.name)  stored \(OperatorOutput.time(newest.lastModified))\(age)")
        } else {
            lines.append("newest segment   none")
        }
        if let oldest = status.oldestSegment {
            lines.append("oldest segment   \(oldest.name)  stored \(OperatorOutput.time(oldest.lastModified))")
        }
        lines.append("segments         \(status.segmentCount) (\(OperatorOutput.bytes(status.storedBytes)) stored, all WAL files)")
        if let newestBackup = status.backups.last {
            lines.append("base backups     \(status.backups.count), newest \"\(newestBackup.history.label)\" "
                         + "(\(newestBackup.history.startSegment), stopped \(newestBackup.history.stopTime))")
        } else {
            lines.append("base backups     none")
        }
        if let chain = status.chain {
            lines.append("timeline         \(chain.targetTimeline)")
            let from = chain.backup == nil ? "the oldest segment" : "the oldest base backup"
            lines.append("missing          \(chain.missingCount) segment(s) between \(from) and the newest segment")
        }
        for problem in status.problems { lines.append("problem          \(problem)") }
        lines.append("per date")
        for usage in status.usageByDate {
            lines.append("  \(usage.date)  \(usage.objects) objects  \(OperatorOutput.bytes(usage.storedBytes))")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ status: ArchiveStatus, _ archive: OperatorArchive) -> String {
        func segment(_ file: ArchivedFile?) -> JSONValue {
            guard let file else { return .null }
            return .object(["name": .string(file.name.description), "key": .string(file.key),
                            "stored": file.lastModified.map { .string($0.extendedISO8601) } ?? .null])
        }
        return JSONValue.object([
            "archive": .string(status.location),
            "identity": OperatorOutput.identityJSON(archive.identity),
            "time": .string(status.time.extendedISO8601),
            "newest_segment": segment(status.newestSegment),
            "newest_segment_age_seconds": status.newestSegmentAge.map { .integer($0) } ?? .null,
            "oldest_segment": segment(status.oldestSegment),
            "segments": .integer(Int64(status.segmentCount)),
            "stored_bytes": .integer(status.storedBytes),
            "dates": .array(status.usageByDate.map(OperatorOutput.dateJSON)),
            "backups": .array(status.backups.map(OperatorOutput.backupJSON)),
            "timeline": status.chain.map { .integer(Int64($0.targetTimeline)) } ?? .null,
            "missing_segments": .integer(Int64(status.missingSegments)),
            "problems": .array(status.problems.map { .string($0) }),
        ]).encoded()
    }
}
