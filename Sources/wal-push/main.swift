import Glibc
import WALArchive

exit(PushCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current()))
