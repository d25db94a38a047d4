/// What `wal-push` does with its command line; the executable only calls `run` and exits.
public enum PushCommand {
    public static let usage = """
        Usage: wal-push [options] <path>
        Archives one WAL file; use as archive_command = 'wal-push %p'.
        Prints nothing on success (with --log info, one logfmt line per call); one line on
        stderr on failure.

        Exit status: 0 stored (or the identical file was already stored), 1 storage failure
        (PostgreSQL retries), 2 usage or configuration error, 3 not a valid WAL file for its
        name, 4 a different file is already archived under this name.

        """ + "\n" + CommandHelp.options

    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions.parse(arguments)
        } catch {
            return fail(.usage(error))
        }
        if let status = CommandHelp.answerInformationalRequest(options.request, program: "wal-push", usage: usage) {
            return status
        }
        guard options.arguments.count == 1 else {
            return fail(.usage(.wrongArgumentCount(expected: "one argument, the path of the WAL file (%p)")))
        }
        let path = options.arguments[0]
        var log: CallLog?
        var store: CountingObjectStore?
        do throws(ArchiveError) {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(options: options, environment: environment)
            } catch {
                throw .usage(error)
            }
            if configuration.logLevel == .info { log = CallLog(tool: "wal-push", file: FileOperations.baseName(path)) }
            let pushAhead = PushAhead(configuration: configuration, path: path)
            if pushAhead.consumeRecord() {
                log?.write(result: "pushed_ahead", path: path, store: nil, stored: nil)
                return PushExitStatus.archived.rawValue
            }
            let counting: CountingObjectStore
            do {
                // From here every path makes a request (the claim, the data, the identity) but a
                // file refused before anything is stored (not WAL, another system): the store
                // may connect while the segment is read and hashed.
                counting = CountingObjectStore(try configuration.destination.makeStore(connectsEarly: true))
            } catch {
                throw .storage(error, key: configuration.location)
            }
            store = counting
            let walDirectory = WALDirectory(containing: path)
            // The copy of the identity lives beside PostgreSQL's files only where PostgreSQL
            // called us (`%p` in pg_wal): a script pushing from elsewhere reads the store. Its
            // read is not counted: the log line's requests and bytes are the file's.
            let check = ArchiveIdentityCheck(store: counting.base, storeIdentity: configuration.storeIdentity,
                                             cacheDirectory: walDirectory.isPGWAL ? walDirectory.trustedStateDirectory(create: true) : nil)
            let found: (identity: ArchiveIdentity, source: ArchiveIdentityCheck.Source)
            do {
                found = try check.identity()
            } catch {
                guard case .missing(let location) = error else {
                    throw .archiveIdentity(error, name: FileOperations.baseName(path))
                }
                let dataDirectory = walDirectory.isPGWAL ? FileOperations.absolutePath(walDirectory.dataDirectory) : nil
                let initCommand = CommandHelp.initCommand(options: options, configuration: configuration, dataDirectory: dataDirectory)
                throw .noArchiveIdentity(location: location, initCommand: initCommand)
            }
            let operation = ArchiveOperation(store: counting, configuration: configuration, archiveIdentity: found.identity,
                                             identityCheck: found.source == .cache ? check : nil)
            switch try pushAhead.archive(with: operation, configuration: configuration) {
            case .stored(let key):
                log?.write(result: "stored", key: key, path: path, store: store, stored: store?.bytesSent)
            case .alreadyArchived(let key):
                log?.write(result: "already_archived", key: key, path: path, store: store, stored: nil)
            }
            return PushExitStatus.archived.rawValue
        } catch {
            log?.write(result: "failed", path: path, store: store, stored: nil, exit: error.exitStatus.rawValue,
                       error: error.message)
            return fail(error)
        }
    }

    private static func fail(_ error: ArchiveError) -> Int32 {
        CommandHelp.report(program: "wal-push", error.message)
        return error.exitStatus.rawValue
    }
}
