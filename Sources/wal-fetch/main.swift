import Glibc
import WALArchive

exit(FetchCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current(),
                         spawnsPrefetchWorker: true))
