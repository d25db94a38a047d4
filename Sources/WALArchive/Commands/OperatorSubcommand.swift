/// One `wal-archive` subcommand. Adding one: a type in its own file conforming to this, and
/// its name in `OperatorCommand.subcommands`; parsing, `--help`, `--version` and refusing
/// positional arguments come from the dispatcher.
protocol OperatorSubcommand: Sendable {
    /// As typed after `wal-archive`.
    static var name: String { get }
    /// One line for `wal-archive --help`.
    static var summary: String { get }
    /// The full text of `wal-archive <name> --help`.
    static var usage: String { get }
    /// Options beyond the shared settings (which every subcommand accepts).
    static var options: [CommandOption] { get }
    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32
}
