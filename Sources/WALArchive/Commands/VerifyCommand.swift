/// `wal-archive verify`: would a recovery from a start point to the newest segment succeed?
enum VerifyCommand: OperatorSubcommand {
    static let name = "verify"
    static let summary = "check that the chain from a base backup (or segment, LSN) to the newest segment is complete"
    static let options = [CommandOption("from"), CommandOption("deep", flag: true)]
    static let usage = """
        Usage: wal-archive verify [options] [--from SEGMENT|LSN|BACKUP] [--deep]
        Checks that a recovery from the start point to the newest archived segment finds every
        segment, following timeline switches at their fork points (as recovery_target_timeline =
        'latest' does), and that each segment carries its checksum metadata (one request per
        segment). Each missing or damaged segment is named on its own line.

          --from START   where the recovery starts: a segment name (000000010000000A000000FE),
                         an LSN (A/FE000028), or a base backup (its label or its .backup file's
                         name); default: the oldest base backup, else the oldest segment
          --deep         download every segment of the chain and verify it as wal-fetch does
                         (decompression, size, SHA-256, page header) and that it belongs to the
                         archive's system (the identity's system identifier)

        Exit status: 0 the chain is complete and every segment checks out; 1 storage failure;
        2 usage or configuration error; 5 segments missing or damaged (named on stdout).

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive verify"
        do throws(OperatorFailure) {
            let archive = try OperatorArchive.open(options, environment: environment)
            let start = try startPoint(options.commandValues["from"])
            let chain: WALChain
            do {
                chain = try WALChain(inventory: archive.inventory, from: start)
            } catch {
                throw .failed(.problemsFound, error.message)
            }
            let deep = options.commandValues["deep"] != nil
            let findings: [ChainVerification.Finding]
            do {
                findings = try ChainVerification(store: archive.store, inventory: archive.inventory,
                                                 temporaryDirectory: archive.temporaryDirectory, decryption: archive.decryption)
                    .verify(chain, deep: deep, systemIdentifier: archive.identity?.systemIdentifier)
            } catch {
                throw .storage(error, location: archive.configuration.storeIdentity.description)
            }
            let (text, complete) = report(archive, chain: chain, findings: findings, deep: deep)
            OperatorOutput.print(text)
            return complete ? OperatorExitStatus.success.rawValue : OperatorExitStatus.problemsFound.rawValue
        } catch {
            return error.report(program: program)
        }
    }

    static func startPoint(_ value: String?) throws(OperatorFailure) -> WALChain.StartPoint {
        guard let value else { return .oldest }
        if let name = try? WALFileName(parsing: value), name.kind == .segment { return .segment(name) }
        if let lsn = WALFileValidator.parseLSN(Array(value.utf8)[...]) { return .lsn(lsn) }
        return .backup(value)
    }

    static func report(_ archive: OperatorArchive, chain: WALChain, findings: [ChainVerification.Finding],
                       deep: Bool) -> (String, Bool) {
        let inventory = archive.inventory
        var lines = [archive.heading]
        let start = inventory.segmentName(timeline: chain.startTimeline, number: chain.startNumber)?.description ?? "?"
        if let backup = chain.backup {
            lines.append("from base backup \"\(backup.history.label)\" (\(OperatorOutput.lsn(backup.history.startLSN)), \(start))")
        } else {
            lines.append("from \(start)")
        }
        for step in chain.steps {
            let last = step.last ?? chain.endNumber ?? step.first
            guard last >= step.first else { continue }
            let range = ArchiveInventory.SegmentRange(timeline: step.timeline, first: step.first, last: last)
            var line = "  timeline \(step.timeline): \(OperatorOutput.range(range, in: inventory))"
            if let fork = inventory.histories[step.timeline]?.beginLSN, step.timeline != chain.startTimeline {
                line += " (forked at \(OperatorOutput.lsn(fork)))"
            }
            lines.append(line)
        }
        let checked = deep ? "downloaded and verified" : "checksum metadata checked"
        lines.append("  \(chain.length) segments, \(chain.length - chain.missingCount) archived, \(checked)")
        for range in chain.missing {
            lines.append("MISSING \(OperatorOutput.range(range, in: inventory))" + (range.count > 1 ? " (\(range.count) segments)" : ""))
        }
        for finding in findings {
            lines.append("DAMAGED \(finding.name) (\(finding.key)): \(finding.message)")
        }
        for problem in chain.problems { lines.append("PROBLEM " + problem) }
        let problems = chain.missing.count + findings.count + chain.problems.count
        if let first = chain.missing.first, let name = inventory.segmentName(timeline: first.timeline, number: first.first) {
            lines.append("verify: \(problems) problem(s); a recovery from \(start) would stop before \(name)")
        } else if problems > 0 {
            lines.append("verify: \(problems) problem(s)")
        } else if chain.endNumber == nil {
            lines.append("verify: no segment archived at or after \(start)")
            return (lines.joined(separator: "\n"), false)
        } else {
            let endNumber = chain.endNumber ?? 0
            let end = inventory.segmentName(timeline: chain.timeline(of: endNumber), number: endNumber)?.description ?? "?"
            lines.append("verify: complete: a recovery from \(start) finds every segment up to \(end)")
        }
        return (lines.joined(separator: "\n"), problems == 0)
    }
}
