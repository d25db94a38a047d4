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
                counting = CountingObjectStore(try configuration.destination.makeStore())
            } catch {
                throw .storage(error, name: options.arguments[0])
            }
            store = counting
            let operation = RestoreOperation(store: counting, layout: configuration.layout,
                                             searchesLegacyFlatLayout: configuration.legacyFlatLayout,
                                             preferredSuffix: configuration.compression.keySuffix)
            let key = try operation.restore(name: options.arguments[0], to: destination)
            log?.write(result: "restored", key: key, path: destination, store: store, stored: store?.bytesReceived)
            prefetch.keepNextSegmentsComing()
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
