import Glibc

/// Finds the files that hold secrets or settings and that group or others may read (or write):
/// the config file, every `*_FILE` credential, key files, the shared AWS files, token files, and
/// the credentials cache. For `wal-archive check`, which prints one warning per file; the
/// tools themselves read such files anyway (refusing them would stop archiving over a
/// permission bit), except the credentials cache, which they ignore when it is not private.
public enum SecretFileAudit {
    public struct Warning: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        /// What the file is and where it was named (`secret key (AWS_SECRET_ACCESS_KEY_FILE)`).
        public var purpose: String
        /// Permission bits, e.g. 0o644.
        public var mode: UInt32

        public var description: String {
            let who = mode & 0o070 != 0 && mode & 0o007 != 0 ? "its group and others" : mode & 0o070 != 0 ? "its group" : "others"
            let fix = mode & 0o111 != 0 ? "chmod go= \(path)" : "chmod 600 \(path)"
            return "\(path) (\(purpose)) has mode \(String(mode, radix: 8)), open to \(who); run `\(fix)`"
                + " (owner: the user PostgreSQL runs as)"
        }
    }

    /// Files named by the options, the environment and the config file, in that order; each
    /// file once. Files that do not exist are not reported (the tools report those).
    public static func warnings(options: CommandLineOptions, environment: [String: String],
                                defaultConfigPath: String = ConfigFile.defaultPath) -> [Warning] {
        var named: [(path: String, purpose: String)] = []
        let configPath = options.configPath ?? nonEmpty(environment["WAL_ARCHIVE_CONFIG"]) ?? defaultConfigPath
        let file = configPath == ConfigFile.noFile ? nil : try? ConfigFile.load(path: configPath)
        if let file { named.append((file.path, "config file")) }

        let fileSettings: [(ConfigurationSetting, String)] = [
            (.accessKeyID, "access key ID"), (.secretAccessKey, "secret key"), (.sessionToken, "session token"),
        ]
        for (setting, purpose) in fileSettings {
            if let path = options.values[setting.optionName + "-file"] {
                named.append((path, "\(purpose) (--\(setting.optionName)-file)"))
            }
            for name in setting.environmentNames {
                if let path = nonEmpty(environment[name + "_FILE"]) { named.append((path, "\(purpose) (\(name)_FILE)")) }
            }
            if let entry = file?.entry(setting.fileKey + "_file") {
                named.append((entry.value, "\(purpose) (`\(setting.fileKey)_file` in \(file?.path ?? ""))"))
            }
        }
        for (setting, purpose) in keyFileSettings {
            if let path = options.values[setting.optionName] { named.append((path, "\(purpose) (--\(setting.optionName))")) }
            for name in setting.environmentNames {
                for path in (nonEmpty(environment[name])?.split(separator: ":").map(String.init) ?? []) {
                    named.append((path, "\(purpose) (\(name))"))
                }
            }
            if let entry = file?.entry(setting.fileKey) {
                for path in entry.value.split(separator: ":").map(String.init) {
                    named.append((path, "\(purpose) (`\(setting.fileKey)` in \(file?.path ?? ""))"))
                }
            }
        }
        let home = HomeDirectory.path(environment: environment) ?? ""
        named.append((nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? home + "/.aws/credentials",
                      "shared AWS credentials file"))
        named.append((nonEmpty(environment["AWS_CONFIG_FILE"]) ?? home + "/.aws/config", "shared AWS config file"))
        for name in ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            if let path = nonEmpty(environment[name]) { named.append((path, "token (\(name))")) }
        }

        var warnings: [Warning] = []
        var seen: Set<String> = []
        for (path, purpose) in named where seen.insert(path).inserted {
            if let warning = check(path, purpose: purpose) { warnings.append(warning) }
        }
        if let cache = CredentialsCache.defaultDirectory(environment: environment), seen.insert(cache).inserted,
           let warning = check(cache, purpose: "credentials cache directory") {
            warnings.append(warning)
        }
        return warnings
    }

    /// A warning when `path` exists and group or others have any access to it.
    public static func check(_ path: String, purpose: String) -> Warning? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let mode = UInt32(info.st_mode) & 0o7777
        guard mode & 0o077 != 0 else { return nil }
        return Warning(path: path, purpose: purpose, mode: mode)
    }

    /// Settings whose value names key files (colon-separated where several are allowed).
    static let keyFileSettings: [(ConfigurationSetting, String)] = [
        (.sseCKeyFile, "SSE-C key"), (.encryptionKeyFile, "encryption key"), (.decryptionKeyFiles, "decryption key"),
    ]
}
