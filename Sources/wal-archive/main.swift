import Glibc
import WALArchive

exit(OperatorCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessEnvironment.current()))
