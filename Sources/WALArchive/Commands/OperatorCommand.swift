/// `wal-archive`: the operators' tool, one subcommand per task (`wal-archive init`, …),
/// configured exactly like `wal-push` and `wal-fetch` (options, environment, config file).
/// The executable only calls `run` and exits.
public enum OperatorCommand {
    static let subcommands: [any OperatorSubcommand.Type] = [InitCommand.self, CheckCommand.self, ListCommand.self,
                                                             VerifyCommand.self, PruneCommand.self, StatusCommand.self,
                                                             AddKeyCommand.self]

    public static var usage: String {
        var lines: [String] = []
        for subcommand in subcommands {
            lines.append("  " + subcommand.name + String(repeating: " ", count: max(1, 8 - subcommand.name.count)) + subcommand.summary)
        }
        return """
            Usage: wal-archive <subcommand> [options]
            Manages a wal-archive archive; `wal-archive <subcommand> --help` describes each.

            Subcommands:

            """ + lines.joined(separator: "\n") + "\n"
    }

    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        guard let first = arguments.first else {
            CommandHelp.report(program: "wal-archive", "expected a subcommand; see wal-archive --help")
            return OperatorExitStatus.usageError.rawValue
        }
        if first.hasPrefix("-") {
            // Only --help and --version come before a subcommand.
            let request: CommandLineOptions.Request
            switch first {
            case "--help": request = .help
            case "--version": request = .version
            default:
                CommandHelp.report(program: "wal-archive", "expected a subcommand before \(first); see wal-archive --help")
                return OperatorExitStatus.usageError.rawValue
            }
            return CommandHelp.answerInformationalRequest(request, program: "wal-archive", usage: usage) ?? 0
        }
        guard let subcommand = subcommands.first(where: { $0.name == first }) else {
            CommandHelp.report(program: "wal-archive", "unknown subcommand \(WALFileNameError.quoted(first)); see wal-archive --help")
            return OperatorExitStatus.usageError.rawValue
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions.parse(Array(arguments.dropFirst()), commandOptions: subcommand.options)
        } catch {
            CommandHelp.report(program: "wal-archive \(subcommand.name)", error.message)
            return OperatorExitStatus.usageError.rawValue
        }
        if let status = CommandHelp.answerInformationalRequest(options.request, program: "wal-archive", usage: subcommand.usage) {
            return status
        }
        // No subcommand takes positional arguments: everything is an option.
        if let argument = options.arguments.first {
            CommandHelp.report(program: "wal-archive \(subcommand.name)",
                               "unexpected argument \(WALFileNameError.quoted(argument)); see --help")
            return OperatorExitStatus.usageError.rawValue
        }
        return subcommand.run(options, environment: environment)
    }
}
