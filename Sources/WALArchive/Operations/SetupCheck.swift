import Glibc

/// `wal-archive check`: whether the tools, as configured, can do their work against this
/// archive, without changing the archive. Each finding is a line: what holds, or what is
/// wrong and how to fix it.
///
/// Nothing is written: reading the identity proves the endpoint, TLS, credentials and read
/// permission; a listing proves list permission; a conditional PUT (`If-None-Match: *`) of the
/// identity's own content under its existing key proves write permission, because the store
/// must check permission before it can answer 412 Precondition Failed, and a 412 stores
/// nothing. No delete is made or needed.
public struct SetupCheck {
    public struct Finding: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case ok, note, problem }
        public var kind: Kind
        public var text: String

        static func ok(_ text: String) -> Finding { Finding(kind: .ok, text: text) }
        static func note(_ text: String) -> Finding { Finding(kind: .note, text: text) }
        static func problem(_ text: String) -> Finding { Finding(kind: .problem, text: text) }
    }

    public let configuration: Configuration
    public let environment: [String: String]
    public private(set) var findings: [Finding] = []
    public private(set) var identity: ArchiveIdentity?

    public init(configuration: Configuration, environment: [String: String]) {
        self.configuration = configuration
        self.environment = environment
    }

    public var problems: Int { findings.filter { $0.kind == .problem }.count }

    /// The archive: endpoint, TLS, credentials, identity, permissions.
    public mutating func checkArchive() {
        let storeIdentity = configuration.storeIdentity
        let store: any ObjectStore
        do {
            store = try configuration.destination.makeStore()
        } catch {
            findings.append(.problem("cannot set up the store for \(storeIdentity): \(error.message); \(StorageAdvice.for(error))"))
            return
        }
        let identityKey = ArchiveIdentityObject.key(configuration.layout)
        do {
            identity = try ArchiveIdentityObject.read(from: store, layout: configuration.layout, storeIdentity: storeIdentity)
        } catch {
            findings.append(.problem(Self.describe(error, reaching: storeIdentity)))
            return
        }
        if let identity {
            findings.append(.ok("reached \(storeIdentity) and read its identity (credentials and read permission work): "
                                + identity.summary))
            checkEncryption(identity)
        } else {
            findings.append(.problem("no archive identity at \(storeIdentity.describe(key: identityKey)): this location was "
                                     + "never initialised, or url/prefix point elsewhere; fix the url, or run "
                                     + "`wal-archive init -D DATADIR` for the cluster that archives here"))
        }
        do {
            _ = try store.listObjects(prefix: configuration.layout.root, startAfter: nil, limit: 1)
            findings.append(.ok("can list the archive (s3:ListBucket), as wal-fetch's search needs"))
        } catch {
            findings.append(.problem("cannot list \(storeIdentity): \(error.message); grant s3:ListBucket on the bucket "
                                     + "(for the prefix), which wal-fetch needs to find segments"))
        }
        guard let identity else {
            findings.append(.note("write permission not checked: without an identity object nothing can be written "
                                  + "that the store is sure to refuse"))
            return
        }
        checkWritePermission(store, identity: identity, key: identityKey)
    }

    /// Client-side encryption: the archive's state, and whether the configured keys fit it.
    private mutating func checkEncryption(_ identity: ArchiveIdentity) {
        let keys = configuration.encryptionKeys
        if let problem = identity.encryptionProblem(writeKey: keys?.writeKey) {
            findings.append(.problem("the archive \(problem)"))
        } else if let ids = identity.encryptionKeyIDs {
            let readable = ids.filter { keys?.key(id: $0) != nil }
            let unreadable = ids.filter { keys?.key(id: $0) == nil }
            findings.append(.ok("client-side encryption: the archive is \(identity.encryptionSummary); wal-push encrypts "
                                + "with key \(keys?.writeKey?.id ?? "")"))
            if !unreadable.isEmpty {
                findings.append(.note("no configured key has the id \(unreadable.joined(separator: ", ")) (configured: "
                                      + "\(readable.joined(separator: ", "))): objects written with it cannot be fetched until "
                                      + "its file is in WAL_ARCHIVE_DECRYPTION_KEY_FILES"))
            }
        } else {
            findings.append(.ok("client-side encryption: off (the archive is not encrypted)"))
        }
    }

    private mutating func checkWritePermission(_ store: any ObjectStore, identity: ArchiveIdentity, key: String) {
        let request = PutRequest(key: key, bytes: identity.encoded, ifAbsent: true)
        do {
            switch try store.put(request) {
            case .alreadyExists:
                findings.append(.ok("can write (s3:PutObject): a conditional PUT of the existing identity was refused "
                                    + "with 412, as it must be; nothing was written"))
            case .stored:
                findings.append(.problem("the store accepted a conditional PUT (If-None-Match: *) over the existing "
                                         + "\(key): it does not honour conditional writes, so an archived name could be "
                                         + "overwritten; use a store that does (AWS S3, Ceph RGW, MinIO, …)"))
            }
        } catch {
            if error.isConditionalWriteUnsupported {
                findings.append(.note("the store does not implement conditional writes (501): wal-push checks with a "
                                      + "HEAD before each PUT instead; write permission is not proven without writing"))
            } else if case .accessDenied = error {
                findings.append(.problem("cannot write to \(configuration.storeIdentity): \(error.message); grant "
                                         + "s3:PutObject on the prefix, which wal-push needs"))
            } else {
                findings.append(.problem("the write test failed: \(error.message); \(StorageAdvice.for(error))"))
            }
        }
    }

    /// `-D DATADIR`: the cluster is this archive's system, and PostgreSQL's own settings
    /// (`postgres -D DATADIR -C name`, as the data directory's owner) call our tools with
    /// this archive.
    public mutating func checkDataDirectory(_ path: String, postgres: String?) {
        let directory = DataDirectory(path: path)
        let control: ControlFile
        let majorVersion: Int
        do {
            majorVersion = try directory.majorVersion()
            control = try directory.controlFile()
        } catch {
            findings.append(.problem("\(error.message); give -D the data directory of the cluster that archives here"))
            return
        }
        if let identity {
            if identity.systemIdentifier != control.systemIdentifier || identity.postgresMajorVersion != majorVersion {
                findings.append(.problem("data directory \(path) is system \(control.systemIdentifier) (PostgreSQL "
                                         + "\(majorVersion)), but the archive belongs to \(identity.summary): this cluster "
                                         + "must archive to its own prefix (fix url, or -D names another cluster)"))
            } else {
                findings.append(.ok("data directory \(path) is the archive's system \(control.systemIdentifier)"))
            }
        }
        guard let binary = postgres ?? Self.postgresBinary(majorVersion: majorVersion, environment: environment) else {
            findings.append(.problem("cannot find the postgres executable of PostgreSQL \(majorVersion) to read the "
                                     + "settings; give it with --postgres PATH"))
            return
        }
        var values: [String: String] = [:]
        for name in ["archive_mode", "archive_command", "restore_command"] {
            switch PostgresSetting.read(name, dataDirectory: path, postgres: binary) {
            case .success(let value): values[name] = value
            case .failure(let failure):
                findings.append(.problem(failure.message))
                return
            }
        }
        let mode = values["archive_mode"] ?? ""
        if mode == "on" || mode == "always" {
            findings.append(.ok("archive_mode = \(mode)"))
        } else {
            findings.append(.problem("archive_mode = \(mode): PostgreSQL archives nothing; set archive_mode = on "
                                     + "(postgres-conf/archive.conf) and restart the server"))
        }
        checkCommand("archive_command", values["archive_command"] ?? "", tool: "wal-push", placeholders: ["%p"],
                     example: "postgres-conf/archive.conf")
        let restore = values["restore_command"] ?? ""
        if restore.isEmpty {
            findings.append(.note("restore_command is not set (needed only for recovery: postgres-conf/recovery-pitr.conf)"))
        } else {
            checkCommand("restore_command", restore, tool: "wal-fetch", placeholders: ["%f", "%p"],
                         example: "postgres-conf/recovery-pitr.conf")
        }
    }

    /// `setting` calls `tool` with its placeholders, and the tool would reach this archive.
    private mutating func checkCommand(_ setting: String, _ command: String, tool: String, placeholders: [String], example: String) {
        guard let invocation = ToolInvocation(command: command, tool: tool) else {
            findings.append(.problem("\(setting) does not call \(tool): '\(command)'; set it as in \(example)"))
            return
        }
        if invocation.path.hasPrefix("/") && access(invocation.path, X_OK) != 0 {
            findings.append(.problem("\(setting) calls \(invocation.path), which is not an executable file: install "
                                     + "\(tool) there or fix the path"))
            return
        }
        let given = invocation.arguments.filter { placeholders.contains($0) }
        guard given == placeholders else {
            findings.append(.problem("\(setting) calls \(tool) with \(given.isEmpty ? "no" : given.joined(separator: " ")) "
                                     + "instead of \(placeholders.joined(separator: " ")): '\(command)'; see \(example)"))
            return
        }
        let options: CommandLineOptions
        let theirs: Configuration
        do {
            options = try CommandLineOptions.parse(invocation.arguments.filter { !placeholders.contains($0) })
            theirs = try Configuration.load(options: options, environment: environment.merging(invocation.assignments) { $1 })
        } catch {
            findings.append(.problem("\(setting): \(tool)'s configuration does not load here: \(error.message)"))
            return
        }
        if theirs.storeIdentity.url == configuration.storeIdentity.url && Self.sameEndpoint(theirs, configuration) {
            findings.append(.ok("\(setting) calls \(invocation.path) with this archive"))
        } else {
            findings.append(.problem("\(setting) uses the archive \(theirs.storeIdentity), not \(configuration.storeIdentity): "
                                     + "'\(command)'; point both at the same url (its --config file or WAL_ARCHIVE_URL)"))
        }
    }

    private static func sameEndpoint(_ first: Configuration, _ second: Configuration) -> Bool {
        switch (first.storeIdentity.backend, second.storeIdentity.backend) {
        case (.s3(let endpoint, _, _, _), .s3(let other, _, _, _)): return endpoint == other
        case (.directory, .directory): return true
        default: return false
        }
    }

    /// Debian's layout for the major version, else `postgres` on PATH.
    static func postgresBinary(majorVersion: Int, environment: [String: String]) -> String? {
        let debian = "/usr/lib/postgresql/\(majorVersion)/bin/postgres"
        if access(debian, X_OK) == 0 { return debian }
        for directory in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = String(directory) + "/postgres"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// A storage failure reaching the archive, said as what to fix.
    static func describe(_ error: ArchiveIdentityError, reaching store: StoreIdentity) -> String {
        if case .storage(let storageError, _) = error {
            switch storageError {
            case .rejected(404, "NoSuchBucket", _, _):
                return "the bucket of \(store) does not exist: create it, or fix url"
            case .accessDenied(let detail):
                return "\(store) refused the credentials: \(detail); check the access key, the secret and the bucket policy"
            default:
                return "cannot reach \(store): \(storageError.message); \(StorageAdvice.for(storageError))"
            }
        }
        return error.message
    }
}
