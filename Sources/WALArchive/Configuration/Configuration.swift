/// Everything one `wal-push`/`wal-fetch` call needs to know, resolved from command-line
/// options, the environment and the config file (in that order of precedence).
public struct Configuration: Sendable, Equatable {
    public var destination: StoreDestination
    /// Key prefix inside the bucket (the path of the URL), without leading or trailing `/`.
    public var prefix: String
    /// The destination as the user wrote it, normalised; safe to print.
    public var location: String
    /// How `wal-push` compresses segments (`zstd`, `gzip:6`, `none`).
    public var compression: CompressionAlgorithm
    public var compressionLevel: Int32
    public var legacyFlatLayout: Bool
    public var storageClass: String?
    /// `wal-fetch`: segments downloaded ahead during recovery (0 = off); see PrefetchWorker.
    public var prefetchCount: Int
    /// `wal-push`: parallel uploads of the next ready segments (0 = off); see PushAhead.
    public var pushAheadConcurrency: Int
    /// `error`: a line only on failure; `info`: also one logfmt line per call.
    public var logLevel: LogLevel
    /// Client-side encryption: the key `wal-push` encrypts with (`encryption_key_file`) and the
    /// older keys that still read (`decryption_key_files`); nil when neither is set. Keys come
    /// only from files: no option or variable takes a key itself.
    public var encryptionKeys: EncryptionKeyring?

    public var layout: StorageLayout { StorageLayout(prefix: prefix) }
    /// Exactly which store this configuration reaches; keys every local record.
    public var storeIdentity: StoreIdentity { StoreIdentity(destination: destination, prefix: prefix) }

    public static let defaultRegion = "us-east-1"
    /// `WAL_ARCHIVE_PREFETCH`: segments kept ahead during recovery.
    public static let defaultPrefetchCount = 8
    public static let maximumPrefetchCount = 64
    /// `WAL_ARCHIVE_PUSH_AHEAD`: parallel uploads of the next ready segments.
    public static let defaultPushAheadConcurrency = 4
    public static let maximumPushAheadConcurrency = 32

    /// Resolves the configuration. The config file is `--config`, else `WAL_ARCHIVE_CONFIG`,
    /// else `defaultConfigPath` when that file exists; `none` for either means no file at all.
    public static func load(options: CommandLineOptions, environment: [String: String],
                            defaultConfigPath: String = ConfigFile.defaultPath) throws(ConfigurationError) -> Configuration {
        let file: ConfigFile?
        var defaultFileAbsent = false
        if let path = options.configPath ?? nonEmpty(environment["WAL_ARCHIVE_CONFIG"]) {
            file = path == ConfigFile.noFile ? nil : try ConfigFile.load(path: path)
        } else if FileOperations.exists(defaultConfigPath) {
            file = try ConfigFile.load(path: defaultConfigPath)
        } else {
            file = nil
            defaultFileAbsent = true
        }
        let resolver = try SettingResolver(options: options, environment: environment, file: file)
        // Nothing named a file and the default one is absent: say so, since the missing file,
        // not the missing URL, is usually what is wrong (the package not installed, the file moved).
        if defaultFileAbsent, try resolver.value(.url) == nil {
            throw .noConfigFile(defaultPath: defaultConfigPath)
        }
        return try Configuration(resolver: resolver)
    }

    private init(resolver: SettingResolver) throws(ConfigurationError) {
        guard let url = try resolver.value(.url) else {
            throw .missingSetting(name: "WAL_ARCHIVE_URL", howToSet: ConfigurationSetting.url.howToSet,
                                  purpose: "s3://bucket/prefix or file:///directory")
        }
        let destination = try ArchiveURL(parsing: url)
        prefix = destination.prefix
        location = destination.normalized
        legacyFlatLayout = try resolver.boolean(.legacyFlatLayout) ?? false
        storageClass = try resolver.value(.storageClass)?.value
        prefetchCount = try resolver.count(.prefetch, maximum: Self.maximumPrefetchCount) ?? Self.defaultPrefetchCount
        pushAheadConcurrency = try resolver.count(.pushAhead, maximum: Self.maximumPushAheadConcurrency)
            ?? Self.defaultPushAheadConcurrency
        (compression, compressionLevel) = try Self.compression(resolver.value(.compression))
        logLevel = try Self.logLevel(resolver.value(.log))
        encryptionKeys = try Self.encryptionKeys(resolver)

        switch destination.scheme {
        case .file:
            self.destination = .directory(root: destination.path)
        case .s3:
            self.destination = .s3(try Self.s3Settings(bucket: destination.bucket, resolver: resolver))
        }
    }

    private static func s3Settings(bucket: String, resolver: SettingResolver) throws(ConfigurationError) -> S3Settings {
        var endpoint: String?
        if let value = try resolver.value(.endpoint) {
            endpoint = try Self.endpoint(value)
        }
        let files = try SharedCredentialsFiles(environment: resolver.environment)
        // As with the SDKs, a region set nowhere else comes from the profile's config.
        let profileName = try resolver.value(.profile)?.value ?? "default"
        let region = try resolver.value(.region)?.value ?? nonEmpty(files.profile(profileName)?["region"]?.value)
            ?? defaultRegion
        let credentials = try CredentialChain.resolve(resolver: resolver, environment: resolver.environment, files: files,
                                                      region: region)
        let pathStyle = try resolver.boolean(.pathStyle) ?? endpoint.map(Self.cannotUseVirtualHosts) ?? false
        var caBundle: String?
        if let value = try resolver.value(.caBundle) {
            guard FileOperations.exists(value.value) else {
                throw .invalidValue(origin: value.origin, shown: value.value, expected: "a readable PEM file")
            }
            caBundle = value.value
        }
        let defaults = S3Settings(bucket: bucket, endpoint: nil, region: region,
                                  credentials: .init(accessKeyID: "", secretAccessKey: ""))
        return S3Settings(
            bucket: bucket, endpoint: endpoint, region: region,
            credentials: credentials,
            pathStyle: pathStyle, caBundlePath: caBundle,
            unsignedPayload: try resolver.boolean(.unsignedPayload) ?? false,
            connectTimeoutSeconds: try resolver.positiveInteger(.connectTimeout) ?? defaults.connectTimeoutSeconds,
            lowSpeedTimeoutSeconds: try resolver.positiveInteger(.lowSpeedTimeout) ?? defaults.lowSpeedTimeoutSeconds,
            retryBudgetSeconds: try resolver.positiveInteger(.retryBudget) ?? defaults.retryBudgetSeconds,
            maxAttempts: try resolver.positiveInteger(.maxAttempts) ?? defaults.maxAttempts,
            credentialsCacheDirectory: try credentialsCache(resolver),
            serverSideEncryption: try serverSideEncryption(resolver, endpoint: endpoint))
    }

    /// `WAL_ARCHIVE_CREDENTIALS_CACHE`: an absolute directory, `none`, or the per-user default.
    private static func credentialsCache(_ resolver: SettingResolver) throws(ConfigurationError) -> String? {
        guard let value = try resolver.value(.credentialsCache) else {
            return CredentialsCache.defaultDirectory(environment: resolver.environment)
        }
        if value.value == "none" { return nil }
        guard value.value.hasPrefix("/") else {
            throw .invalidValue(origin: value.origin, shown: value.value, expected: "an absolute directory, or none")
        }
        return value.value
    }

    private static func serverSideEncryption(_ resolver: SettingResolver, endpoint: String?)
        throws(ConfigurationError) -> ServerSideEncryption? {
        let mode = try resolver.value(.sse)
        let kmsKey = try resolver.value(.sseKMSKeyID)
        let customerKeyFile = try resolver.value(.sseCKeyFile)
        if let customerKeyFile {
            if let mode {
                throw .conflictingSettings(mode.origin, customerKeyFile.origin)
            }
            // S3 refuses customer keys over plain HTTP; sending one there would also show it
            // to anyone on the path.
            guard endpoint.map({ $0.lowercased().hasPrefix("https://") }) ?? true else {
                throw .invalidValue(origin: customerKeyFile.origin, shown: nil,
                                    expected: "an https:// endpoint: an SSE-C key is never sent over plain HTTP")
            }
            return .customerKey(try KeyFile.read(customerKeyFile, purpose: "a 256-bit SSE-C key: 64 hex digits or 32 bytes"))
        }
        guard let mode else {
            if let kmsKey {
                throw .invalidValue(origin: kmsKey.origin, shown: kmsKey.value,
                                    expected: "a key used with WAL_ARCHIVE_SSE=aws:kms, which is not set")
            }
            return nil
        }
        switch mode.value.lowercased() {
        case "aes256":
            if let kmsKey {
                throw .invalidValue(origin: kmsKey.origin, shown: kmsKey.value,
                                    expected: "a key used with WAL_ARCHIVE_SSE=aws:kms, not AES256")
            }
            return .s3Managed
        case "aws:kms":
            return .kms(keyID: kmsKey?.value)
        default:
            throw .invalidValue(origin: mode.origin, shown: mode.value, expected: "AES256 or aws:kms")
        }
    }

    /// The key of `encryption_key_file` and those of `decryption_key_files` (colon-separated).
    private static func encryptionKeys(_ resolver: SettingResolver) throws(ConfigurationError) -> EncryptionKeyring? {
        let expected = "a 256-bit encryption key: 64 hex digits"
        func key(_ value: ConfiguredValue) throws(ConfigurationError) -> EncryptionKey {
            let bytes = try KeyFile.readKey(value, expected: expected, allowsRawBytes: false)
            guard let key = EncryptionKey(bytes: bytes) else { throw .invalidValue(origin: value.origin, shown: nil, expected: expected) }
            return key
        }
        let writeKey = try resolver.value(.encryptionKeyFile).map { (value) throws(ConfigurationError) in try key(value) }
        var olderKeys: [EncryptionKey] = []
        if let files = try resolver.value(.decryptionKeyFiles) {
            for path in files.value.split(separator: ":", omittingEmptySubsequences: true) {
                olderKeys.append(try key(ConfiguredValue(value: String(path), origin: files.origin)))
            }
        }
        guard writeKey != nil || !olderKeys.isEmpty else { return nil }
        return EncryptionKeyring(writeKey: writeKey, olderKeys: olderKeys)
    }

    /// `algorithm[:level]`; the algorithm's default level when none is given.
    private static func compression(_ value: ConfiguredValue?) throws(ConfigurationError) -> (CompressionAlgorithm, Int32) {
        guard let value else { return (.default, CompressionAlgorithm.default.defaultLevel) }
        let parts = value.value.lowercased().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let names = CompressionAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
        guard let algorithm = CompressionAlgorithm(rawValue: String(parts[0])) else {
            throw .invalidValue(origin: value.origin, shown: value.value, expected: "one of \(names), optionally with :level")
        }
        guard parts.count == 2 else { return (algorithm, algorithm.defaultLevel) }
        guard let level = Int32(parts[1]), algorithm.levels.contains(level), algorithm != .none else {
            let levels = algorithm == .none ? "no level" : "a level from \(algorithm.levels.lowerBound) to \(algorithm.levels.upperBound)"
            throw .invalidValue(origin: value.origin, shown: value.value, expected: "\(algorithm.rawValue) with \(levels)")
        }
        return (algorithm, level)
    }

    private static func logLevel(_ value: ConfiguredValue?) throws(ConfigurationError) -> LogLevel {
        guard let value else { return .error }
        guard let level = LogLevel(rawValue: value.value.lowercased()) else {
            throw .invalidValue(origin: value.origin, shown: value.value, expected: "error or info")
        }
        return level
    }

    /// `http(s)://host[:port]`, without a trailing slash.
    private static func endpoint(_ value: SettingResolver.Value) throws(ConfigurationError) -> String {
        var text = value.value
        while text.hasSuffix("/") { text.removeLast() }
        let expected = "http://host[:port] or https://host[:port]"
        guard let (scheme, authority) = splitScheme(text), scheme == "http" || scheme == "https",
              !authority.isEmpty, !authority.contains("/") else {
            throw .invalidValue(origin: value.origin, shown: value.value, expected: expected)
        }
        return text
    }

    /// Virtual-hosted addressing needs DNS names under the endpoint; an IP address or
    /// `localhost` cannot have them, so those endpoints default to path-style.
    private static func cannotUseVirtualHosts(_ endpoint: String) -> Bool {
        guard var host = splitScheme(endpoint)?.rest else { return false }
        if host.hasPrefix("[") { return true }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" { return true }
        return !host.isEmpty && host.allSatisfy { $0 == "." || $0.isNumber }
    }
}

/// `scheme://rest` → (scheme, rest).
func splitScheme(_ text: String) -> (scheme: String, rest: String)? {
    guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return nil }
    return (String(text[..<colon]), String(text[text.index(colon, offsetBy: 3)...]))
}

func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}

/// A setting's value and where it came from.
public struct ConfiguredValue: Sendable, Equatable {
    public var value: String
    /// For messages: `--url`, `WAL_ARCHIVE_URL`, `` `url` in FILE line 3 ``.
    public var origin: String
}

/// Finds each setting's value at the highest-precedence place that sets it.
struct SettingResolver {
    typealias Value = ConfiguredValue

    let options: CommandLineOptions
    let environment: [String: String]
    let file: ConfigFile?

    init(options: CommandLineOptions, environment: [String: String], file: ConfigFile?) throws(ConfigurationError) {
        self.options = options
        self.environment = environment
        self.file = file
        if let file {
            var known: Set<String> = []
            for setting in ConfigurationSetting.allCases {
                known.insert(setting.fileKey)
                if setting.canBeReadFromFile { known.insert(setting.fileKey + "_file") }
            }
            if let unknown = file.entries.first(where: { !known.contains($0.key) }) {
                throw .unknownConfigKey(path: file.path, line: unknown.line, key: unknown.key)
            }
        }
    }

    func value(_ setting: ConfigurationSetting) throws(ConfigurationError) -> Value? {
        if let found = try pick(setting, direct: setting.isSecret ? nil : options.values[setting.optionName].map {
            Value(value: $0, origin: "--" + setting.optionName)
        }, fromFile: options.values[setting.optionName + "-file"].map {
            Value(value: $0, origin: "--\(setting.optionName)-file")
        }) {
            return found
        }
        for name in setting.environmentNames {
            let direct = nonEmpty(environment[name]).map { Value(value: $0, origin: name) }
            let fromFile = setting.canBeReadFromFile
                ? nonEmpty(environment[name + "_FILE"]).map { Value(value: $0, origin: name + "_FILE") } : nil
            if let found = try pick(setting, direct: direct, fromFile: fromFile) { return found }
        }
        if let file {
            let direct = file.entry(setting.fileKey).map {
                Value(value: $0.value, origin: "`\(setting.fileKey)` in \(file.path) line \($0.line)")
            }
            let fromFile = setting.canBeReadFromFile ? file.entry(setting.fileKey + "_file").map {
                Value(value: $0.value, origin: "`\(setting.fileKey)_file` in \(file.path) line \($0.line)")
            } : nil
            if let found = try pick(setting, direct: direct, fromFile: fromFile) { return found }
        }
        return nil
    }

    func boolean(_ setting: ConfigurationSetting) throws(ConfigurationError) -> Bool? {
        guard let found = try value(setting) else { return nil }
        switch found.value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw .invalidValue(origin: found.origin, shown: found.value, expected: "true or false")
        }
    }

    func positiveInteger(_ setting: ConfigurationSetting) throws(ConfigurationError) -> Int? {
        guard let found = try value(setting) else { return nil }
        guard let number = Int(found.value), number > 0, number <= 86_400 else {
            throw .invalidValue(origin: found.origin, shown: found.value, expected: "a whole number of seconds (or attempts) from 1 to 86400")
        }
        return number
    }

    private func pick(_ setting: ConfigurationSetting, direct: Value?, fromFile: Value?) throws(ConfigurationError) -> Value? {
        if let direct, let fromFile {
            throw .conflictingSettings(direct.origin, fromFile.origin)
        }
        if let direct {
            guard !direct.value.isEmpty else {
                throw .invalidValue(origin: direct.origin, shown: nil, expected: "a non-empty value")
            }
            return direct
        }
        guard let fromFile else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(fromFile.value, limit: 64 * 1024)
        } catch {
            throw .unreadableSecretFile(origin: fromFile.origin, reason: error.message)
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.unicodeScalars.last, last == "\n" || last == "\r" { text.unicodeScalars.removeLast() }
        guard !text.isEmpty else {
            throw .unreadableSecretFile(origin: fromFile.origin, reason: "\(fromFile.value) is empty")
        }
        return Value(value: text, origin: "\(fromFile.origin) (\(fromFile.value))")
    }
}

/// `s3://bucket/prefix` or `file:///directory`.
struct ArchiveURL {
    enum Scheme { case s3, file }

    var scheme: Scheme
    var bucket: String
    var path: String
    var prefix: String
    var normalized: String

    init(parsing value: SettingResolver.Value) throws(ConfigurationError) {
        let text = value.value
        let expected = "s3://bucket/optional/prefix or file:///absolute/directory"
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            let bucket = String(parts.first ?? "")
            let bucketCharacters = bucket.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || ("A"..."Z").contains($0) || $0 == "_"
            }
            guard !bucket.isEmpty, bucket.count <= 63, bucketCharacters else {
                throw .invalidValue(origin: value.origin, shown: text, expected: expected + " (bucket name missing or invalid)")
            }
            let components = parts.dropFirst().filter { !$0.isEmpty }
            guard !components.contains(where: { $0 == "." || $0 == ".." }) else {
                throw .invalidValue(origin: value.origin, shown: text, expected: expected + " (no `.` or `..` in the prefix)")
            }
            scheme = .s3
            self.bucket = bucket
            path = ""
            prefix = components.joined(separator: "/")
            normalized = "s3://" + bucket + (prefix.isEmpty ? "" : "/" + prefix)
        } else if text.hasPrefix("file://") {
            let path = String(text.dropFirst(7))
            guard path.hasPrefix("/") else {
                throw .invalidValue(origin: value.origin, shown: text, expected: expected + " (three slashes: file:///path)")
            }
            var trimmed = path
            while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
            scheme = .file
            bucket = ""
            self.path = trimmed
            prefix = ""
            normalized = "file://" + trimmed
        } else {
            throw .invalidValue(origin: value.origin, shown: text, expected: expected)
        }
    }
}
