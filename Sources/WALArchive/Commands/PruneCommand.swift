/// `wal-archive prune`: deletes WAL no kept base backup needs.
enum PruneCommand: OperatorSubcommand {
    static let name = "prune"
    static let summary = "delete WAL older than the oldest base backup kept (prints the plan unless --confirm)"
    static let options = [CommandOption("keep-backups"), CommandOption("before"), CommandOption("confirm", flag: true)]
    static let usage = """
        Usage: wal-archive prune [options] (--keep-backups N | --before YYYY-MM-DD) [--confirm]
        Deletes the WAL that no recovery from a kept base backup reads: every segment, .partial
        and backup history file below the start segment of the oldest base backup kept, on every
        timeline. Never a timeline history file, never the archive identity, never a kept
        backup's .backup file, never an object that is not WAL. Without --confirm it only prints
        what it would delete. Needs delete permission (s3:DeleteObject); S3 deletes in batches of
        1000 keys (DeleteObjects).

          --keep-backups N       keep the newest N base backups (and the WAL from the oldest of them)
          --before YYYY-MM-DD    delete WAL of the date partitions before this UTC date, but never
                                 what the base backups started on or after it need (when none did,
                                 the newest base backup is kept)
          --confirm              delete; without it, nothing is changed

        Exit status: 0 done (or planned); 1 storage failure, or some objects were not deleted
        (each named); 2 usage or configuration error; 5 nothing can be pruned safely (no base
        backup, or a backup history file that cannot be read).

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive prune"
        do throws(OperatorFailure) {
            let rule: PrunePlan.Rule
            switch (options.commandValues["keep-backups"], options.commandValues["before"]) {
            case (let count?, nil):
                guard let number = Int(count), number >= 1 else {
                    throw .usage("--keep-backups takes a number of base backups, at least 1, not \(WALFileNameError.quoted(count))")
                }
                rule = .keepBackups(number)
            case (nil, let date?):
                guard StorageLayout.isCalendarDate(Substring(date)) else {
                    throw .usage("--before takes a date YYYY-MM-DD, not \(WALFileNameError.quoted(date))")
                }
                rule = .before(date)
            default:
                throw .usage("give either --keep-backups N or --before YYYY-MM-DD; see --help")
            }
            let confirmed = options.commandValues["confirm"] != nil
            let archive = try OperatorArchive.open(options, environment: environment)
            let plan: PrunePlan
            do {
                plan = try PrunePlan(inventory: archive.inventory, rule: rule)
            } catch {
                throw .failed(.problemsFound, error.message)
            }
            var lines = [archive.heading]
            lines.append("keeping \(plan.keptBackups.count) base backup(s) and the WAL from \(plan.keepFrom) on: "
                         + plan.keptBackups.map { "\"\($0.history.label)\"" }.joined(separator: ", "))
            lines += summary(plan)
            // Claims alone are left by a prune interrupted between the data and the claims.
            let nothingPlanned = plan.deletions.isEmpty && plan.claimDeletions.isEmpty
            guard confirmed, !nothingPlanned else {
                if !nothingPlanned { lines.append("nothing was deleted: run again with --confirm to delete them") }
                OperatorOutput.print(lines.joined(separator: "\n"))
                return OperatorExitStatus.success.rawValue
            }
            let failures: [DeleteFailure]
            do {
                failures = try plan.execute(on: archive.store)
            } catch {
                OperatorOutput.print(lines.joined(separator: "\n"))
                throw .failed(.storageFailure, "deleting from \(archive.configuration.storeIdentity.description) failed: "
                              + "\(error.message); \(StorageAdvice.for(error)) (the deletions run oldest first: what is "
                              + "left is still consistent; run prune again)")
            }
            for failure in failures { lines.append("NOT DELETED \(failure.key): \(failure.reason)") }
            let claims = Set(plan.claimDeletions)
            let failedClaims = failures.filter { claims.contains($0.key) }.count
            let failedData = failures.count - failedClaims
            let claimsKept = claims.count - plan.claims(after: failures.filter { !claims.contains($0.key) }).count
            lines.append("deleted \(plan.deletions.count - failedData) object(s)"
                         + (claims.isEmpty ? "" : " and \(claims.count - claimsKept - failedClaims) name claim(s)")
                         + (failures.isEmpty ? "" : "; \(failures.count) refused (check the key's delete permission)")
                         + (claimsKept == 0 ? "" : "; the claims of the \(claimsKept) name(s) not deleted stay with them"))
            OperatorOutput.print(lines.joined(separator: "\n"))
            return failures.isEmpty ? OperatorExitStatus.success.rawValue : OperatorExitStatus.storageFailure.rawValue
        } catch {
            return error.report(program: program)
        }
    }

    /// What goes, per date partition (and the legacy flat layout): first and last name, count, bytes.
    static func summary(_ plan: PrunePlan) -> [String] {
        guard !plan.deletions.isEmpty else {
            guard !plan.claimDeletions.isEmpty else { return ["nothing to delete"] }
            return ["no WAL to delete; the name claims (names/) of \(plan.claimDeletions.count) name(s) whose WAL is gone "
                    + "(left by an interrupted prune)"]
        }
        var lines = ["\(plan.deletions.count) object(s), \(OperatorOutput.bytes(plan.storedBytes)) to delete:"]
        var groups: [String: [ArchivedFile]] = [:]
        for file in plan.deletions { groups[file.date ?? "legacy flat layout", default: []].append(file) }
        for (group, files) in groups.sorted(by: { $0.key < $1.key }) {
            let names = files.map(\.name.description).sorted()
            let span = names.count == 1 ? names[0] : "\(names[0]) … \(names[names.count - 1])"
            lines.append("  \(group)  \(span)  (\(files.count) objects, \(OperatorOutput.bytes(files.reduce(0) { $0 + $1.storedBytes })))")
        }
        if !plan.claimDeletions.isEmpty { lines.append("  and the name claims (names/) of \(plan.claimDeletions.count) name(s)") }
        return lines
    }
}
