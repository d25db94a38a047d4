/// `wal-archive init`: writes the archive identity once, before the first `wal-push`.
enum InitCommand: OperatorSubcommand {
    static let name = "init"
    static let summary = "create the archive identity (wal-archive.json) from a data directory or a WAL segment"
    static let options = [CommandOption("pgdata", short: "D"), CommandOption("wal-file")]
    static let usage = """
        Usage: wal-archive init [options] -D DATADIR
               wal-archive init [options] --wal-file PATH
        Creates <prefix>/wal-archive.json, the archive identity: the system identifier, PostgreSQL
        major version and WAL segment size of the one cluster archived there. wal-push and
        wal-fetch refuse a location without it, and wal-push refuses WAL of any other system.
        Run it once before archive_mode is turned on; running it again is safe.
        With an encryption key configured (--encryption-key-file, WAL_ARCHIVE_ENCRYPTION_KEY_FILE,
        `encryption_key_file`), the archive is created encrypted: every object is encrypted
        with that key (client-side AES-256-GCM), and wal-push refuses to store without one of
        its keys. Whether an archive is encrypted is decided here, once.

          -D, --pgdata DATADIR   the cluster's data directory (default: $PGDATA): reads
                                 DATADIR/PG_VERSION and DATADIR/global/pg_control
          --wal-file PATH        one WAL segment of the cluster (its long page header), when the
                                 data directory is not at hand

        Exit status: 0 created, or already this system's; 1 storage failure; 2 usage or
        configuration error, or the archive's encryption differs from the configured key;
        3 DATADIR or PATH does not tell the system; 4 the archive belongs to another system
        (nothing is changed).

        """ + "\n" + CommandHelp.options

    static func run(_ options: CommandLineOptions, environment: [String: String]) -> Int32 {
        let program = "wal-archive init"
        func fail(_ status: OperatorExitStatus, _ message: String) -> Int32 {
            CommandHelp.report(program: program, message)
            return status.rawValue
        }
        let walFile = options.commandValues["wal-file"]
        let dataDirectory = options.commandValues["pgdata"] ?? (walFile == nil ? nonEmpty(environment["PGDATA"]) : nil)
        guard (dataDirectory == nil) != (walFile == nil) else {
            return fail(.usageError, "give either -D DATADIR (or PGDATA) or --wal-file PATH; see --help")
        }
        let configuration: Configuration
        do {
            configuration = try Configuration.load(options: options, environment: environment)
        } catch {
            return fail(.usageError, error.message)
        }
        let created = UTCTime.now().extendedISO8601
        var identity: ArchiveIdentity
        let source: String
        do {
            if let dataDirectory {
                identity = try Self.identity(ofDataDirectory: dataDirectory, created: created)
                source = "data directory \(dataDirectory)"
            } else {
                identity = try Self.identity(ofWALFile: walFile ?? "", created: created)
                source = walFile ?? ""
            }
        } catch {
            return fail(.invalidSource, error.message)
        }
        if let writeKey = configuration.encryptionKeys?.writeKey {
            identity.encryptionKeyIDs = [writeKey.id]
        }
        let storeIdentity = configuration.storeIdentity
        let location = storeIdentity.describe(key: ArchiveIdentityObject.key(configuration.layout))
        let outcome: ArchiveIdentityObject.CreateOutcome
        do throws(ArchiveIdentityError) {
            let store = try ArchiveIdentityObject.store(configuration.destination, location: location)
            outcome = try ArchiveIdentityObject.create(identity, in: store, layout: configuration.layout, storeIdentity: storeIdentity)
        } catch {
            return fail(.storageFailure, error.message)
        }
        switch outcome {
        case .created:
            print("wal-archive init: created \(location) for \(identity.summary)"
                  + (identity.isEncrypted ? ", \(identity.encryptionSummary)" : ""))
            return OperatorExitStatus.success.rawValue
        case .existing(let existing) where existing.isSameSystem(as: identity):
            if let problem = existing.encryptionProblem(writeKey: configuration.encryptionKeys?.writeKey) {
                return fail(.usageError, "\(location) belongs to \(existing.summary), but \(problem); nothing was changed")
            }
            print("wal-archive init: \(location) already belongs to \(existing.summary), since \(existing.created)"
                  + (existing.isEncrypted ? ", \(existing.encryptionSummary)" : ""))
            return OperatorExitStatus.success.rawValue
        case .existing(let existing):
            return fail(.otherSystem, "\(location) belongs to \(existing.summary), but \(source) is \(identity.summary); "
                        + "nothing was changed: give each cluster its own prefix")
        }
    }

    static func identity(ofDataDirectory path: String, created: String) throws(InitSourceError) -> ArchiveIdentity {
        let directory = DataDirectory(path: path)
        do {
            let majorVersion = try directory.majorVersion()
            let control = try directory.controlFile()
            return ArchiveIdentity(systemIdentifier: control.systemIdentifier, postgresMajorVersion: majorVersion,
                                   walSegmentSize: control.walSegmentSize, created: created)
        } catch {
            throw .dataDirectory(error)
        }
    }

    /// From the long page header that starts every segment (the file must be a whole, valid
    /// segment or `.partial` file under its own name).
    static func identity(ofWALFile path: String, created: String) throws(InitSourceError) -> ArchiveIdentity {
        let name: WALFileName
        do {
            name = try WALFileName(parsing: FileOperations.baseName(path))
        } catch {
            throw .notASegment(path: path, detail: error.message)
        }
        guard name.holdsWAL else { throw .notASegment(path: path, detail: "\(name) holds no WAL pages") }
        let validated: ValidatedWALFile
        do {
            validated = try WALFileValidator.validate(path: path, as: name)
        } catch {
            throw .notASegment(path: path, detail: error.message)
        }
        // The validator has checked the magic and the segment size already.
        guard let header = validated.header, let majorVersion = WALPageMagic.majorVersion(of: header.magic),
              let segmentSize = WALSegmentSize(bytes: header.segmentSize) else {
            throw .notASegment(path: path, detail: "\(name) has no usable long page header")
        }
        return ArchiveIdentity(systemIdentifier: header.systemIdentifier, postgresMajorVersion: majorVersion,
                               walSegmentSize: segmentSize, created: created)
    }
}

/// Why `wal-archive init` could not tell the system from what it was given.
enum InitSourceError: Error {
    case dataDirectory(DataDirectoryError)
    case notASegment(path: String, detail: String)

    var message: String {
        switch self {
        case .dataDirectory(let error): return error.message
        case .notASegment(let path, let detail): return "\(path) is not a WAL segment to take the identity from: \(detail)"
        }
    }
}
