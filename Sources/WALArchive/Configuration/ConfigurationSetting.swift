/// Every setting, with the names it goes by on the command line, in the environment and in
/// the config file. Precedence: command-line option, then environment (in the order of
/// `environmentNames`), then config file, then the default.
public enum ConfigurationSetting: String, CaseIterable, Sendable {
    case url, endpoint, region, pathStyle, caBundle
    case accessKeyID, secretAccessKey, sessionToken, profile, credentialsCache
    case sse, sseKMSKeyID, sseCKeyFile
    case encryptionKeyFile, decryptionKeyFiles
    case compression, legacyFlatLayout, storageClass, unsignedPayload
    case connectTimeout, lowSpeedTimeout, retryBudget, maxAttempts
    case prefetch, pushAhead
    case log

    /// `--<optionName>`; for secrets only `--<optionName>-file` exists, so a secret never
    /// appears in `ps` output.
    public var optionName: String {
        switch self {
        case .url: return "url"
        case .endpoint: return "endpoint"
        case .region: return "region"
        case .pathStyle: return "path-style"
        case .caBundle: return "ca-bundle"
        case .accessKeyID: return "access-key-id"
        case .secretAccessKey: return "secret-access-key"
        case .sessionToken: return "session-token"
        case .profile: return "profile"
        case .credentialsCache: return "credentials-cache"
        case .sse: return "sse"
        case .sseKMSKeyID: return "sse-kms-key-id"
        case .sseCKeyFile: return "sse-c-key-file"
        case .encryptionKeyFile: return "encryption-key-file"
        case .decryptionKeyFiles: return "decryption-key-files"
        case .compression: return "compression"
        case .legacyFlatLayout: return "legacy-flat-layout"
        case .storageClass: return "storage-class"
        case .unsignedPayload: return "unsigned-payload"
        case .connectTimeout: return "connect-timeout"
        case .lowSpeedTimeout: return "low-speed-timeout"
        case .retryBudget: return "retry-budget"
        case .maxAttempts: return "max-attempts"
        case .prefetch: return "prefetch"
        case .pushAhead: return "push-ahead"
        case .log: return "log"
        }
    }

    /// Config-file key: the environment name without its `WAL_ARCHIVE_`/`AWS_` prefix, lower case.
    public var fileKey: String { optionName.replacingHyphensWithUnderscores }

    public var environmentNames: [String] {
        switch self {
        case .url: return ["WAL_ARCHIVE_URL"]
        case .endpoint: return ["WAL_ARCHIVE_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        case .region: return ["WAL_ARCHIVE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]
        case .pathStyle: return ["WAL_ARCHIVE_PATH_STYLE"]
        case .caBundle: return ["WAL_ARCHIVE_CA_BUNDLE", "AWS_CA_BUNDLE"]
        case .accessKeyID: return ["AWS_ACCESS_KEY_ID"]
        case .secretAccessKey: return ["AWS_SECRET_ACCESS_KEY"]
        case .sessionToken: return ["AWS_SESSION_TOKEN"]
        case .profile: return ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
        case .credentialsCache: return ["WAL_ARCHIVE_CREDENTIALS_CACHE"]
        case .sse: return ["WAL_ARCHIVE_SSE"]
        case .sseKMSKeyID: return ["WAL_ARCHIVE_SSE_KMS_KEY_ID"]
        case .sseCKeyFile: return ["WAL_ARCHIVE_SSE_C_KEY_FILE"]
        case .encryptionKeyFile: return ["WAL_ARCHIVE_ENCRYPTION_KEY_FILE"]
        case .decryptionKeyFiles: return ["WAL_ARCHIVE_DECRYPTION_KEY_FILES"]
        case .compression: return ["WAL_ARCHIVE_COMPRESSION"]
        case .legacyFlatLayout: return ["WAL_ARCHIVE_LEGACY_FLAT_LAYOUT"]
        case .storageClass: return ["WAL_ARCHIVE_STORAGE_CLASS"]
        case .unsignedPayload: return ["WAL_ARCHIVE_UNSIGNED_PAYLOAD"]
        case .connectTimeout: return ["WAL_ARCHIVE_CONNECT_TIMEOUT"]
        case .lowSpeedTimeout: return ["WAL_ARCHIVE_LOW_SPEED_TIMEOUT"]
        case .retryBudget: return ["WAL_ARCHIVE_RETRY_BUDGET"]
        case .maxAttempts: return ["WAL_ARCHIVE_MAX_ATTEMPTS"]
        case .prefetch: return ["WAL_ARCHIVE_PREFETCH"]
        case .pushAhead: return ["WAL_ARCHIVE_PUSH_AHEAD"]
        case .log: return ["WAL_ARCHIVE_LOG"]
        }
    }

    /// Credentials: may be read from a file named by `NAME_FILE`, `--name-file` or `name_file`.
    public var canBeReadFromFile: Bool {
        self == .accessKeyID || self == .secretAccessKey || self == .sessionToken
    }

    /// Never echoed in a message, never accepted as a plain command-line value.
    public var isSecret: Bool { self == .secretAccessKey || self == .sessionToken }

    /// A boolean that `--name` alone turns on.
    public var isFlag: Bool { self == .pathStyle || self == .legacyFlatLayout || self == .unsignedPayload }

    /// The options the command line accepts for this setting.
    public var commandLineOptions: [String] {
        var names: [String] = []
        if !isSecret { names.append(optionName) }
        if canBeReadFromFile { names.append(optionName + "-file") }
        return names
    }

    /// How a user would set it, for "is not set" messages.
    public var howToSet: String {
        let environment = environmentNames[0]
        var ways = [environment]
        if canBeReadFromFile { ways.append(environment + "_FILE") }
        ways.append(contentsOf: commandLineOptions.map { "--" + $0 })
        ways.append("`\(fileKey)` in the config file")
        return ways.joined(separator: ", ")
    }
}

extension String {
    fileprivate var replacingHyphensWithUnderscores: String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}
