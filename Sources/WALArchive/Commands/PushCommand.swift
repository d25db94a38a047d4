import Glibc

/// The version both executables report.
public enum WALArchiveVersion {
    public static let current = "0.1.0"
}

extension Configuration {
    /// The store the destination URL names.
    public func makeStore() throws(StorageError) -> any ObjectStore {
        switch destination {
        case .directory(let root): return DirectoryStore(root: root)
        case .s3(let settings): return try S3Store(settings: settings)
        }
    }
}

/// What `wal-push` does with its command line; the executable only calls `run` and exits.
public enum PushCommand {
    public static let usage = """
        Usage: wal-push [options] <path>
        Archives one WAL file; use as archive_command = 'wal-push %p'.
        Prints nothing on success; one line on stderr on failure.

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
        do throws(ArchiveError) {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(options: options, environment: environment)
            } catch {
                throw .usage(error)
            }
            let pushAhead = PushAhead(configuration: configuration, path: options.arguments[0])
            if pushAhead.consumeRecord() { return PushExitStatus.archived.rawValue }
            let store: any ObjectStore
            do {
                store = try configuration.makeStore()
            } catch {
                throw .storage(error, key: configuration.location)
            }
            let operation = ArchiveOperation(store: store, configuration: configuration)
            _ = try pushAhead.archive(with: operation, configuration: configuration)
            return PushExitStatus.archived.rawValue
        } catch {
            return fail(error)
        }
    }

    private static func fail(_ error: ArchiveError) -> Int32 {
        CommandHelp.report(program: "wal-push", error.message)
        return error.exitStatus.rawValue
    }
}

/// What `wal-fetch` does with its command line; the executable only calls `run` and exits.
public enum FetchCommand {
    public static let usage = """
        Usage: wal-fetch [options] <file name> <destination path>
        Restores one archived file; use as restore_command = 'wal-fetch %f %p'.
        Prints nothing on success; one line on stderr on failure.

        Exit status: 0 restored and verified, 1 not in the archive (in standby mode also a
        transient failure), 255 any other failure (PostgreSQL stops recovery instead of
        ending it early).

        """ + "\n" + CommandHelp.options

    /// `spawnsPrefetchWorker`: only the `wal-fetch` executable may start itself as the
    /// prefetch worker (see PrefetchRun).
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
        let destination = options.arguments[1]
        let standbyMode = RestoreOperation.isStandbyMode(destination: destination)
        do throws(RestoreError) {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(options: options, environment: environment)
            } catch {
                throw .usage(error)
            }
            let prefetch = PrefetchRun(configuration: configuration, name: options.arguments[0], destination: destination,
                                       arguments: arguments, environment: environment, spawnsWorker: spawnsPrefetchWorker)
            if let status = prefetch.before() { return status }
            let store: any ObjectStore
            do {
                store = try configuration.makeStore()
            } catch {
                throw .storage(error, name: options.arguments[0])
            }
            let operation = RestoreOperation(store: store, layout: configuration.layout,
                                             searchesLegacyFlatLayout: configuration.legacyFlatLayout,
                                             preferredSuffix: configuration.compression.keySuffix)
            try operation.restore(name: options.arguments[0], to: destination)
            prefetch.after()
            return FetchExitStatus.restored.rawValue
        } catch {
            return fail(error, standbyMode: standbyMode)
        }
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

enum CommandHelp {
    static let options = """
        Options (each also an environment variable and a config-file key; see docs/configuration.md):
          --url URL                    s3://bucket/prefix or file:///directory   (WAL_ARCHIVE_URL)
          --config FILE                config file (WAL_ARCHIVE_CONFIG; default /etc/wal-archive/wal-archive.conf if present;
                                       `none`: no config file at all)
          --endpoint URL               S3 endpoint (WAL_ARCHIVE_ENDPOINT, AWS_ENDPOINT_URL)
          --region NAME                (WAL_ARCHIVE_REGION, AWS_REGION, AWS_DEFAULT_REGION; default us-east-1)
          --path-style[=BOOL]          path-style addressing (WAL_ARCHIVE_PATH_STYLE)
          --ca-bundle FILE             PEM bundle for a private endpoint (WAL_ARCHIVE_CA_BUNDLE)
          --access-key-id ID           (AWS_ACCESS_KEY_ID); --access-key-id-file FILE (AWS_ACCESS_KEY_ID_FILE)
          --secret-access-key-file F   (AWS_SECRET_ACCESS_KEY, AWS_SECRET_ACCESS_KEY_FILE)
          --session-token-file FILE    (AWS_SESSION_TOKEN, AWS_SESSION_TOKEN_FILE)
          --compression ALG[:LEVEL]    zstd, gzip or none (WAL_ARCHIVE_COMPRESSION; default zstd)
          --legacy-flat-layout[=BOOL]  also search <prefix>/<file> (WAL_ARCHIVE_LEGACY_FLAT_LAYOUT)
          --storage-class CLASS        (WAL_ARCHIVE_STORAGE_CLASS)
          --unsigned-payload[=BOOL]    (WAL_ARCHIVE_UNSIGNED_PAYLOAD)
          --connect-timeout SECONDS    (WAL_ARCHIVE_CONNECT_TIMEOUT; default 10)
          --low-speed-timeout SECONDS  (WAL_ARCHIVE_LOW_SPEED_TIMEOUT; default 30)
          --retry-budget SECONDS       (WAL_ARCHIVE_RETRY_BUDGET; default 60)
          --max-attempts N             (WAL_ARCHIVE_MAX_ATTEMPTS; default 5)
          --prefetch K                 wal-fetch: segments fetched ahead in recovery, 0 = off (WAL_ARCHIVE_PREFETCH; default 8)
          --push-ahead N               wal-push: parallel uploads of ready segments, 0 = off (WAL_ARCHIVE_PUSH_AHEAD; default 4)
          --help, --version

        """

    /// Prints the answer to `--help` or `--version` and returns the exit status; nil when the
    /// command is to run.
    static func answerInformationalRequest(_ request: CommandLineOptions.Request, program: String,
                                           usage: String) -> Int32? {
        switch request {
        case .help:
            print(usage, terminator: "")
            return 0
        case .version:
            print("\(program) (wal-archive) \(WALArchiveVersion.current)")
            return 0
        case .run:
            return nil
        }
    }

    /// One line on stderr, whatever the message contains.
    static func report(program: String, _ message: String) {
        let line = program + ": " + String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 }) + "\n"
        try? FileOperations.writeAll(STDERR_FILENO, Array(line.utf8), path: "stderr")
    }
}
