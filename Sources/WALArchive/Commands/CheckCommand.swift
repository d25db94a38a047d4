/// `wal-archive check`: is the setup sound, end to end? Changes nothing.
enum CheckCommand: OperatorSubcommand {
    static let name = "check"
    static let summary = "check configuration, credentials, endpoint, identity and permissions (and with -D, the cluster's settings)"
    static let options = [CommandOption("pgdata", short: "D"), CommandOption("postgres")]
    static let usage = """
        Usage: wal-archive check [options] [-D DATADIR]
        Checks, without changing the archive, that wal-push and wal-fetch configured like this
        can work: the configuration loads; the endpoint answers (TLS included) and accepts the
        credentials; the archive identity exists; the key may read, list and write (write is
        proven by a conditional PUT of the existing identity, which the store refuses with 412:
        nothing is written, and no delete permission is needed or used).

          -D, --pgdata DATADIR   also check the cluster: its system identifier is the archive's,
                                 and archive_mode, archive_command and restore_command, as
                                 PostgreSQL resolves them (postgres -D DATADIR -C name, run as the
                                 data directory's owner), call wal-push / wal-fetch with this archive
          --postgres PATH        the postgres executable for -D (default: Debian's for the data
                                 directory's major version, else postgres on PATH)

        Prints one line per check: "ok", "note", or "PROBLEM" with the fix.
        Exit status: 0 all is well; 2 the configuration does not load; 5 problems (each on its line).

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(options: options, environment: environment)
        } catch {
            OperatorOutput.print("PROBLEM  configuration: \(error.message)")
            return OperatorExitStatus.usageError.rawValue
        }
        var check = SetupCheck(configuration: configuration, environment: environment)
        check.checkArchive()
        if let dataDirectory = options.commandValues["pgdata"] {
            check.checkDataDirectory(dataDirectory, postgres: options.commandValues["postgres"])
        }
        var lines = ["ok       configuration loads: archive \(configuration.storeIdentity)"]
        for finding in check.findings {
            switch finding.kind {
            case .ok: lines.append("ok       " + finding.text)
            case .note: lines.append("note     " + finding.text)
            case .problem: lines.append("PROBLEM  " + finding.text)
            }
        }
        lines.append(check.problems == 0 ? "check: all is well" : "check: \(check.problems) problem(s)")
        OperatorOutput.print(lines.joined(separator: "\n"))
        return check.problems == 0 ? OperatorExitStatus.success.rawValue : OperatorExitStatus.problemsFound.rawValue
    }
}
