/// `wal-archive add-key`: lists the configured encryption key in an encrypted archive's
/// identity, so that `wal-push` may encrypt with it (key rotation, docs/security.md).
enum AddKeyCommand: OperatorSubcommand {
    static let name = "add-key"
    static let summary = "let wal-push encrypt with the configured key (encrypted archives; key rotation)"
    static let options: [CommandOption] = []
    static let usage = """
        Usage: wal-archive add-key [options]
        Adds the id of the key in --encryption-key-file (WAL_ARCHIVE_ENCRYPTION_KEY_FILE,
        `encryption_key_file`) to the archive identity's encryption_key_ids; nothing else in
        the archive changes. wal-push encrypts only with keys listed there. Key ids are never
        removed: objects written with an older key stay readable through
        WAL_ARCHIVE_DECRYPTION_KEY_FILES. Running it again is safe. The key itself is never
        stored or printed, only its id.

        Exit status: 0 added, or listed already; 1 storage failure; 2 usage or configuration
        error (no key configured, the archive is not encrypted or has no identity).

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive add-key"
        func fail(_ status: OperatorExitStatus, _ message: String) -> Int32 {
            CommandHelp.report(program: program, message)
            return status.rawValue
        }
        let configuration: Configuration
        do {
            configuration = try Configuration.load(options: options, environment: environment)
        } catch {
            return fail(.usageError, error.message)
        }
        let setting = ConfigurationSetting.encryptionKeyFile
        guard let key = configuration.encryptionKeys?.writeKey else {
            return fail(.usageError, "no encryption key is configured: set \(setting.howToSet) to the file of the new key")
        }
        let storeIdentity = configuration.storeIdentity
        let location = storeIdentity.describe(key: ArchiveIdentityObject.key(configuration.layout))
        let outcome: ArchiveIdentityObject.AddKeyOutcome
        do throws(ArchiveIdentityError) {
            let store = try ArchiveIdentityObject.store(configuration.destination, location: location)
            outcome = try ArchiveIdentityObject.addEncryptionKey(key.id, in: store, layout: configuration.layout,
                                                                 storeIdentity: storeIdentity)
        } catch {
            if case .missing = error { return fail(.usageError, error.message + ": create it with `wal-archive init`") }
            if case .unusable = error { return fail(.usageError, error.message) }
            return fail(.storageFailure, error.message)
        }
        switch outcome {
        case .added(let identity):
            print("wal-archive add-key: \(location) now takes key \(key.id); \(identity.encryptionSummary)")
            return OperatorExitStatus.success.rawValue
        case .alreadyListed(let identity):
            print("wal-archive add-key: \(location) lists key \(key.id) already; \(identity.encryptionSummary)")
            return OperatorExitStatus.success.rawValue
        case .notEncrypted:
            return fail(.usageError, "\(location) is not encrypted: an archive is encrypted (or not) once, by "
                        + "`wal-archive init`; nothing was changed (docs/security.md: moving to an encrypted archive)")
        }
    }
}
