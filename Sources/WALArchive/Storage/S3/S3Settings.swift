/// Everything needed to reach one S3 bucket. Built by `Configuration` from options,
/// environment and config file; consumed by `S3Store`.
public struct S3Settings: Sendable, Equatable {
    /// One set of keys. Its description shows the access key ID only, so that printing a
    /// value that holds it (a failed test's assertion, a debug line) cannot show a secret.
    public struct Credentials: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        public var description: String {
            "Credentials(\(accessKeyID), secret not shown" + (sessionToken == nil ? ")" : ", with a session token)")
        }

        public var customMirror: Mirror { Mirror(reflecting: description) }
    }

    /// AWS's regional endpoint, used when no endpoint is configured.
    public static func awsEndpoint(region: String) -> String {
        "https://s3.\(region).amazonaws.com"
    }

    public var bucket: String
    /// Scheme, host and optional port, e.g. `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:9000`; nil means AWS's regional endpoint.
    public var endpoint: String?
    public var region: String
    /// Where the keys come from (`CredentialChain`); fetched on first use.
    public var credentials: CredentialSource
    /// Temporary credentials are kept here between processes; nil: not kept.
    public var credentialsCacheDirectory: String?
    public var serverSideEncryption: ServerSideEncryption?
    /// Path-style (`endpoint/bucket/key`) instead of virtual-hosted (`bucket.endpoint/key`).
    public var pathStyle: Bool
    /// PEM bundle for private endpoints; nil uses the system's trust store.
    public var caBundlePath: String?
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256 (only for servers that need it).
    public var unsignedPayload: Bool
    public var connectTimeoutSeconds: Int
    /// A transfer slower than 1 KiB/s for this long is abandoned and retried.
    public var lowSpeedTimeoutSeconds: Int
    /// The time one request may take, all attempts and pauses included: no attempt starts
    /// with less than a second of it left, and each attempt's transfer ends when it runs out.
    public var retryBudgetSeconds: Int
    /// A safety cap on attempts per request; with the default budget, retries end by time
    /// (about 20 attempts in 60 s when every one fails at once).
    public var maxAttempts: Int

    public init(bucket: String, endpoint: String?, region: String, credentials: CredentialSource,
                pathStyle: Bool = false, caBundlePath: String? = nil, unsignedPayload: Bool = false,
                connectTimeoutSeconds: Int = 10, lowSpeedTimeoutSeconds: Int = 30,
                retryBudgetSeconds: Int = 60, maxAttempts: Int = 100, credentialsCacheDirectory: String? = nil,
                serverSideEncryption: ServerSideEncryption? = nil) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.credentialsCacheDirectory = credentialsCacheDirectory
        self.serverSideEncryption = serverSideEncryption
        self.pathStyle = pathStyle
        self.caBundlePath = caBundlePath
        self.unsignedPayload = unsignedPayload
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.lowSpeedTimeoutSeconds = lowSpeedTimeoutSeconds
        self.retryBudgetSeconds = retryBudgetSeconds
        self.maxAttempts = maxAttempts
    }
}

extension S3Settings {
    /// How a user changes a setting that an S3 error message names (docs/configuration.md);
    /// S3ResponseTests keeps these equal to ConfigurationSetting's names.
    static let regionSettingHint = "`region` (WAL_ARCHIVE_REGION, --region)"
    static let storageClassSettingHint = "`storage_class` (WAL_ARCHIVE_STORAGE_CLASS, --storage-class)"
}
