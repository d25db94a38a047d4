/// What `wal-fetch` does with its command line; the executable only calls `run` and exits.
public enum FetchCommand {
    public static let usage = """
        Usage: wal-fetch [options] <file name> <destination path>
        Restores one archived file; use as restore_command = 'wal-fetch %f %p'.
        Prints nothing on success (with --log info, one logfmt line per call); one line on
        stderr on failure.

        Exit status: 0 restored and verified, 1 not in the archive (in standby mode also a
        transient failure), 255 any other failure (PostgreSQL stops recovery instead of
        ending it early).

        """ + "\n" + CommandHelp.options

    /// `spawnsPrefetchWorker`: only the `wal-fetch` executable may start itself as the
    /// prefetch worker (see PrefetchSession).
    public static func run(arguments: [String], environment: [String: String], spawnsPrefetchWorker: Bool = false) -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions.parse(arguments)
        } catch {
            return fail(.usage(error), standbyMode: false)
        }
        if let status = CommandHelp.answerInformationalRequest(options.request, program: "wal-fetch", usage: usage) {
            return status
        }
        guard options.arguments.count == 2 else {
            return fail(.usage(.wrongArgumentCount(expected: "two arguments, the file name (%f) and the destination path (%p)")),
                        standbyMode: false)
        }
        do {
            _ = try WALFileName(parsing: options.arguments[0])
        } catch {
            return fail(.invalidName(detail: error.message), standbyMode: false)
        }
        let destination = options.arguments[1]
        let standbyMode = WALDirectory(containing: destination).recoveryState == .standby
        var log: CallLog?
        var store: CountingObjectStore?
        do throws(RestoreError) {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(options: options, environment: environment)
            } catch {
                throw .usage(error)
            }
            if configuration.logLevel == .info { log = CallLog(tool: "wal-fetch", file: options.arguments[0]) }
            let prefetch = PrefetchSession(configuration: configuration, name: options.arguments[0], destination: destination,
                                       arguments: arguments, environment: environment, spawnsWorker: spawnsPrefetchWorker)
            if let status = prefetch.completeWithoutDownload() {
                log?.write(result: "prefetched", path: destination, store: nil, stored: nil)
                return status
            }
            let counting: CountingObjectStore
            do {
                // Not served from a prefetched copy: this call downloads (or reads the identity
                // first), so the store may connect while libcurl loads and the local state is read.
                counting = CountingObjectStore(try configuration.destination.makeStore(connectsEarly: true))
            } catch {
                throw .storage(error, name: options.arguments[0])
            }
            store = counting
            // Not counted: the log line's requests and bytes are the file's.
            let archiveIdentity = try Self.archiveIdentity(store: counting.base, configuration: configuration, options: options,
                                                           walDirectory: WALDirectory(containing: destination),
                                                           name: options.arguments[0])
            let operation = RestoreOperation(store: counting, storeIdentity: configuration.storeIdentity, archiveIdentity: archiveIdentity,
                                             searchesLegacyFlatLayout: configuration.legacyFlatLayout,
                                             preferredSuffix: configuration.compression.keySuffix,
                                             decryption: archiveIdentity.decryption(keys: configuration.encryptionKeys))
            var startedWorker = false
            let key = try operation.restore(name: options.arguments[0], to: destination, whenFound: { object in
                startedWorker = prefetch.startWorkerEarly(found: object)
            })
            log?.write(result: "restored", key: key, path: destination, store: store, stored: store?.bytesReceived)
            if !startedWorker { prefetch.keepNextSegmentsComing() }
            return FetchExitStatus.restored.rawValue
        } catch {
            let status = error.exitStatus(standbyMode: standbyMode).rawValue
            if case .notFound = error {
                log?.write(result: "not_found", path: nil, store: store, stored: nil, exit: status)
            } else {
                log?.write(result: "failed", path: nil, store: store, stored: nil, exit: status, error: error.message)
            }
            return fail(error, standbyMode: standbyMode)
        }
    }

    /// The identity of the archive, which must exist (in archive recovery and on a standby
    /// alike: a location without one is not an archive, and "not found" from it would end
    /// recovery early or leave a standby waiting forever) and, where `%p` is in a data
    /// directory's pg_wal, must be the system of that data directory.
    static func archiveIdentity(store: any ObjectStore, configuration: Configuration, options: CommandLineOptions,
                                walDirectory: WALDirectory, name: String) throws(RestoreError) -> ArchiveIdentity {
        let check = ArchiveIdentityCheck(store: store, storeIdentity: configuration.storeIdentity,
                                         cacheDirectory: walDirectory.isPGWAL ? walDirectory.trustedStateDirectory(create: true) : nil)
        let found: (identity: ArchiveIdentity, source: ArchiveIdentityCheck.Source)
        do {
            found = try check.identity()
        } catch {
            guard case .missing(let location) = error else { throw .archiveIdentity(error, name: name) }
            let dataDirectory = walDirectory.isPGWAL ? FileOperations.absolutePath(walDirectory.dataDirectory) : nil
            let initCommand = CommandHelp.initCommand(options: options, configuration: configuration, dataDirectory: dataDirectory)
            throw .noArchiveIdentity(location: location, initCommand: initCommand)
        }
        guard walDirectory.isPGWAL, let system = DataDirectory(path: walDirectory.dataDirectory).systemIdentifier(),
              system != found.identity.systemIdentifier else { return found.identity }
        var current = found.identity
        if found.source == .cache {
            do {
                current = try check.refresh()
            } catch {
                throw .archiveIdentity(error, name: name)
            }
            if current.systemIdentifier == system { return current }
        }
        throw .otherSystem(detail: "this server is system \(system) (pg_control of \(walDirectory.dataDirectory)), but the archive "
            + "\(check.location) belongs to \(current.summary): restore_command points at another cluster's archive")
    }

    private static func fail(_ error: RestoreError, standbyMode: Bool) -> Int32 {
        // A standby asks for the next segment every few seconds until it is archived: a line
        // for each of those expected misses would flood the server log.
        if case .notFound = error, standbyMode {
            return error.exitStatus(standbyMode: standbyMode).rawValue
        }
        CommandHelp.report(program: "wal-fetch", error.message)
        return error.exitStatus(standbyMode: standbyMode).rawValue
    }
}
