/// What `wal-archive list`, `verify`, `prune` and `status` start from: the configuration (read
/// exactly as `wal-push` reads it: options, environment, config file), the store, the archive
/// identity if there is one, and the archive's inventory.
struct OperatorArchive {
    let configuration: Configuration
    let store: any ObjectStore
    let identity: ArchiveIdentity?
    let inventory: ArchiveInventory
    let temporaryDirectory: String

    /// How the archive's objects are read: with the configured keys, and only encrypted where
    /// the identity says the archive is.
    var decryption: ObjectDecryption { Self.decryption(identity, configuration) }

    private static func decryption(_ identity: ArchiveIdentity?, _ configuration: Configuration) -> ObjectDecryption {
        identity?.decryption(keys: configuration.encryptionKeys)
            ?? ObjectDecryption(keyring: configuration.encryptionKeys, required: configuration.encryptionKeys?.writeKey != nil)
    }

    /// The archive as a user names it (`s3://bucket/prefix`, `file:///directory`).
    var url: String { configuration.storeIdentity.url }

    static func open(_ options: CommandLineOptions, environment: [String: String]) throws(OperatorFailure) -> OperatorArchive {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(options: options, environment: environment)
        } catch {
            throw .usage(error.message)
        }
        let temporaryDirectory = nonEmpty(environment["TMPDIR"]) ?? "/tmp"
        let store: any ObjectStore
        do {
            store = try configuration.destination.makeStore()
        } catch {
            throw .storage(error, location: configuration.storeIdentity.description)
        }
        let identity: ArchiveIdentity?
        do {
            identity = try ArchiveIdentityObject.read(from: store, layout: configuration.layout,
                                                      storeIdentity: configuration.storeIdentity)
        } catch {
            throw .failed(.storageFailure, error.message)
        }
        let inventory: ArchiveInventory
        do {
            inventory = try ArchiveInventory.read(from: store, layout: configuration.layout, segmentSize: identity?.walSegmentSize,
                                                  temporaryDirectory: temporaryDirectory,
                                                  decryption: decryption(identity, configuration))
        } catch {
            throw .storage(error, location: configuration.storeIdentity.description)
        }
        return OperatorArchive(configuration: configuration, store: store, identity: identity, inventory: inventory,
                               temporaryDirectory: temporaryDirectory)
    }

    /// `s3://… (system 73…, PostgreSQL 15, 16 MiB WAL segments)`, or a note that there is no identity.
    var heading: String {
        if let identity { return "\(url): \(identity.summary)" }
        return "\(url): no archive identity (\(ArchiveIdentityObject.name); `wal-archive init` creates it), "
            + "\(inventory.segmentSize) WAL segments"
    }

    /// Objects that are neither WAL files nor the identity.
    var foreignObjects: [ListedObject] {
        inventory.otherObjects.filter { $0.key != ArchiveIdentityObject.key(configuration.layout) }
    }
}

/// Why an operator's command stopped: its exit status and the one line that says so.
enum OperatorFailure: Error {
    case failed(OperatorExitStatus, String)

    static func usage(_ message: String) -> OperatorFailure { .failed(.usageError, message) }

    static func storage(_ error: StorageError, location: String) -> OperatorFailure {
        .failed(.storageFailure, "cannot read \(location): \(error.message); \(StorageAdvice.for(error))")
    }

    /// Writes the line to stderr and returns the exit status.
    func report(program: String) -> Int32 {
        switch self {
        case .failed(let status, let message):
            CommandHelp.report(program: program, message)
            return status.rawValue
        }
    }
}
