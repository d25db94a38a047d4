/// An option of one command beyond the shared settings (`wal-archive init -D DATADIR`); it
/// takes a value unless it is a flag (`--json`), whose value is then "true".
public struct CommandOption: Sendable, Equatable {
    public var name: String
    public var shortName: Character?
    public var isFlag: Bool

    public init(_ name: String, short shortName: Character? = nil, flag isFlag: Bool = false) {
        self.name = name
        self.shortName = shortName
        self.isFlag = isFlag
    }
}

/// What a `wal-push`/`wal-fetch`/`wal-archive` command line asks for.
public struct CommandLineOptions: Sendable, Equatable {
    public enum Request: Sendable, Equatable {
        case run
        case help
        case version
    }

    public var request: Request = .run
    /// Long option name (without `--`) → value; flags given without a value are "true".
    public var values: [String: String] = [:]
    public var configPath: String?
    /// Values of the command's own options (`CommandOption`), by long name.
    public var commandValues: [String: String] = [:]
    public var arguments: [String] = []

    public init() {}

    /// Parses `arguments` (without the program name). `--name value` and `--name=value`
    /// both work, and for the command's own options `-X value` and `-Xvalue`; `--` ends the
    /// options.
    public static func parse(_ arguments: [String], commandOptions: [CommandOption] = []) throws(ConfigurationError)
        -> CommandLineOptions {
        var options = CommandLineOptions()
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                options.arguments.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            guard argument.hasPrefix("--") else {
                let letter = argument.dropFirst().first
                guard let option = commandOptions.first(where: { $0.shortName != nil && $0.shortName == letter }) else {
                    throw .unknownOption(argument)
                }
                if argument.count > 2 {
                    options.commandValues[option.name] = String(argument.dropFirst(2))
                } else if index < arguments.count {
                    options.commandValues[option.name] = arguments[index]
                    index += 1
                } else {
                    throw .missingOptionValue(argument)
                }
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            switch name {
            case "help", "version":
                guard inlineValue == nil else { throw .unknownOption(argument) }
                options.request = name == "help" ? .help : .version
                continue
            default:
                break
            }
            if let option = commandOptions.first(where: { $0.name == name }) {
                if option.isFlag {
                    guard inlineValue == nil else { throw .unknownOption(argument) }
                    options.commandValues[name] = "true"
                } else if let inlineValue {
                    options.commandValues[name] = inlineValue
                } else if index < arguments.count {
                    options.commandValues[name] = arguments[index]
                    index += 1
                } else {
                    throw .missingOptionValue("--" + name)
                }
                continue
            }
            let isConfig = name == "config"
            let setting = Self.setting(forOption: name)
            guard isConfig || setting != nil else { throw .unknownOption("--" + name) }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else if let setting, setting.isFlag {
                value = "true"
            } else if index < arguments.count {
                value = arguments[index]
                index += 1
            } else {
                throw .missingOptionValue("--" + name)
            }
            if isConfig {
                options.configPath = value
            } else {
                options.values[name] = value
            }
        }
        return options
    }

    static func setting(forOption name: String) -> ConfigurationSetting? {
        ConfigurationSetting.allCases.first { $0.commandLineOptions.contains(name) }
    }
}
