/// `wal-archive list`: what the archive holds.
enum ListCommand: OperatorSubcommand {
    static let name = "list"
    static let summary = "timelines with their fork points, segment ranges and gaps, base backups, bytes per date"
    static let options = [CommandOption("json", flag: true)]
    static let usage = """
        Usage: wal-archive list [options] [--json]
        Shows what the archive holds: the timelines (from their history files, with the LSN each
        forked at), the ranges of segments archived per timeline with the gaps between them, the
        base backups (from their backup history files: label, start and stop, times), and the
        objects and bytes per date. Reads one listing of the archive (one request per 1000
        objects) and each history and backup history file; changes nothing.

          --json   the same as one JSON document

        Exit status: 0 listed; 1 storage failure; 2 usage or configuration error.

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive list"
        do throws(OperatorFailure) {
            let archive = try OperatorArchive.open(options, environment: environment)
            OperatorOutput.print(options.commandValues["json"] != nil ? json(archive) : text(archive))
            return OperatorExitStatus.success.rawValue
        } catch {
            return error.report(program: program)
        }
    }

    static func text(_ archive: OperatorArchive) -> String {
        let inventory = archive.inventory
        var lines = [archive.heading, "", "Timelines:"]
        let timelines = Set(inventory.files.map(\.name.timeline)).union(inventory.histories.keys).sorted()
        for timeline in timelines {
            var line = "  \(timeline)"
            if let parent = inventory.histories[timeline]?.entries.last {
                line += ": forked from timeline \(parent.parent) at \(OperatorOutput.lsn(parent.switchLSN))"
                if !parent.reason.isEmpty { line += " (\(parent.reason))" }
            } else if timeline > 1 {
                line += ": no history file"
            }
            lines.append(line)
        }
        lines.append("")
        lines.append("Segments:")
        let ranges = inventory.ranges
        if ranges.isEmpty { lines.append("  none") }
        for (index, range) in ranges.enumerated() {
            if index > 0, ranges[index - 1].timeline == range.timeline {
                let gap = ArchiveInventory.SegmentRange(timeline: range.timeline, first: ranges[index - 1].last + 1, last: range.first - 1)
                lines.append("  timeline \(range.timeline)  GAP \(OperatorOutput.range(gap, in: inventory)) (\(gap.count) missing)")
            }
            lines.append("  timeline \(range.timeline)  \(OperatorOutput.range(range, in: inventory)) (\(range.count))")
        }
        for partial in inventory.files where partial.name.kind == .partial {
            lines.append("  timeline \(partial.name.timeline)  \(partial.name) (the last, incomplete segment of a timeline)")
        }
        lines.append("")
        lines.append("Base backups:")
        if inventory.backups.isEmpty { lines.append("  none (no .backup file)") }
        for backup in inventory.backups { lines.append("  " + OperatorOutput.backupLine(backup)) }
        lines.append("")
        lines.append("Per date:")
        for usage in inventory.usageByDate {
            lines.append("  \(usage.date)  \(usage.objects) objects  \(OperatorOutput.bytes(usage.storedBytes))")
        }
        let flat = inventory.files.filter(\.isLegacyFlat)
        if !flat.isEmpty {
            lines.append("  legacy flat layout  \(flat.count) objects  \(OperatorOutput.bytes(flat.reduce(0) { $0 + $1.storedBytes }))")
        }
        if !archive.foreignObjects.isEmpty {
            lines.append("")
            lines.append("Other objects (not WAL; never changed): " + archive.foreignObjects.map(\.key).joined(separator: ", "))
        }
        if !inventory.problems.isEmpty {
            lines.append("")
            lines.append("Problems:")
            for problem in inventory.problems { lines.append("  \(problem.key): \(problem.message)") }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ archive: OperatorArchive) -> String {
        let inventory = archive.inventory
        let timelines = Set(inventory.files.map(\.name.timeline)).union(inventory.histories.keys).sorted()
        let ranges = inventory.ranges
        var gaps: [JSONValue] = []
        for (index, range) in ranges.enumerated() where index > 0 && ranges[index - 1].timeline == range.timeline {
            gaps.append(OperatorOutput.rangeJSON(.init(timeline: range.timeline, first: ranges[index - 1].last + 1, last: range.first - 1),
                                                 in: inventory))
        }
        let document = JSONValue.object([
            "archive": .string(archive.url),
            "identity": OperatorOutput.identityJSON(archive.identity),
            "wal_segment_size": .integer(Int64(inventory.segmentSize.bytes)),
            "timelines": .array(timelines.map { timeline in
                var members: [String: JSONValue] = ["timeline": .integer(Int64(timeline))]
                if let history = inventory.histories[timeline] {
                    members["history"] = .array(history.entries.map {
                        .object(["parent": .integer(Int64($0.parent)), "switch_lsn": .string(OperatorOutput.lsn($0.switchLSN)),
                                 "reason": .string($0.reason)])
                    })
                }
                return .object(members)
            }),
            "segments": .array(ranges.map { OperatorOutput.rangeJSON($0, in: inventory) }),
            "gaps": .array(gaps),
            "partials": .array(inventory.files.filter { $0.name.kind == .partial }.map { .string($0.name.description) }),
            "backups": .array(inventory.backups.map(OperatorOutput.backupJSON)),
            "dates": .array(inventory.usageByDate.map(OperatorOutput.dateJSON)),
            "other_objects": .array(archive.foreignObjects.map { .string($0.key) }),
            "problems": .array(inventory.problems.map { .object(["key": .string($0.key), "message": .string($0.message)]) }),
        ])
        return document.encoded()
    }
}
