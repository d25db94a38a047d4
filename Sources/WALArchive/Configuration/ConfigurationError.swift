/// A usage or configuration mistake; `message` names the setting and what to do.
public enum ConfigurationError: Error, Sendable, Equatable {
    case unknownOption(String)
    case missingOptionValue(String)
    case wrongArgumentCount(expected: String)
    case invalidValue(origin: String, shown: String?, expected: String)
    case missingSetting(name: String, howToSet: String, purpose: String)
    /// No config file was named, the default one does not exist, and nothing else set the URL.
    case noConfigFile(defaultPath: String)
    case conflictingSettings(String, String)
    case unreadableSecretFile(origin: String, reason: String)
    case unreadableConfigFile(path: String, reason: String)
    case configFileSyntax(path: String, line: Int, detail: String)
    case unknownConfigKey(path: String, line: Int, key: String)
    /// No source of the credential chain is configured; `tried` says what was looked at.
    case noCredentials(tried: String)

    public var message: String {
        switch self {
        case .unknownOption(let option):
            return "unknown option \(option); see --help"
        case .missingOptionValue(let option):
            return "option \(option) needs a value; see --help"
        case .wrongArgumentCount(let expected):
            return "expected \(expected); see --help"
        case .invalidValue(let origin, let shown, let expected):
            let value = shown.map { " `\($0)`" } ?? ""
            return "invalid value\(value) for \(origin); expected \(expected)"
        case .missingSetting(let name, let howToSet, let purpose):
            return "\(name) is not set; set it (\(howToSet)) to \(purpose)"
        case .noConfigFile(let defaultPath):
            return "no config file: \(defaultPath) does not exist, and WAL_ARCHIVE_URL is not set; write the config "
                + "file or set WAL_ARCHIVE_URL, --url or --config FILE"
        case .conflictingSettings(let first, let second):
            return "both \(first) and \(second) are set; keep only one"
        case .unreadableSecretFile(let origin, let reason):
            return "cannot read the file named by \(origin): \(reason); check the path and its permissions"
        case .unreadableConfigFile(let path, let reason):
            return "cannot read config file \(path): \(reason); check --config / WAL_ARCHIVE_CONFIG"
        case .configFileSyntax(let path, let line, let detail):
            return "config file \(path) line \(line): \(detail); fix the line"
        case .unknownConfigKey(let path, let line, let key):
            return "config file \(path) line \(line): unknown key `\(key)`; see docs/configuration.md for the keys"
        case .noCredentials(let tried):
            return "no AWS credentials found: \(tried); see docs/credentials.md"
        }
    }
}
