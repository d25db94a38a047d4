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
                store = try configuration.destination.makeStore()
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
