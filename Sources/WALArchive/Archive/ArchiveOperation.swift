import Glibc

/// `wal-push`: validates one file from `pg_wal`, checks that it belongs to the archive's
/// database system, and stores it once under its name.
///
/// **Which system.** A segment's long page header carries the system identifier of the cluster
/// that wrote it; it must be the archive identity's. History and backup history files carry
/// none, so for them the pushing server's own `pg_control` (the data directory above `pg_wal`)
/// is compared instead. An identity taken from the local copy is read again from the store
/// before a file is refused because of it.
///
/// **One name, one content.** Before the data, the name is claimed (`NameClaim`, an empty
/// object at `<prefix>/names/<name>` holding the SHA-256 and the data key) with a conditional
/// PUT (`If-None-Match: *`): the first writer of a name gets it, whatever date partition or
/// compression a later one would use. Then the data, also conditionally. A new segment costs
/// these two PUTs. The claim needs only the file's SHA-256, so this thread reads and hashes the
/// file and stores the claim while a second one compresses the chunks it hands over
/// (`UploadPreparation`): the body is made of exactly the bytes the claimed SHA-256 covers, and
/// the data PUT starts only once the claim is stored. If the claim exists: the same SHA-256 means this file is archived (or a crash
/// left the claim without its data, which is then stored under the claimed key); another
/// SHA-256 is a conflict (exit 4), and nothing is written. A store that does not implement
/// conditional writes (501 / `NotImplemented`) gets a HEAD and a plain PUT instead.
///
/// Timeline history files live under their own undated, uncompressed key, already one per
/// name: one conditional PUT.
public struct ArchiveOperation {
    public enum Outcome: Sendable, Equatable {
        case stored(key: String)
        case alreadyArchived(key: String)
    }

    public let store: any ObjectStore
    public let storeIdentity: StoreIdentity
    public let archiveIdentity: ArchiveIdentity
    /// Reads the identity from the store again before a file is refused for belonging to
    /// another system; nil when `archiveIdentity` was just read from it.
    public let identityCheck: ArchiveIdentityCheck?
    public let compression: CompressionAlgorithm
    public let compressionLevel: Int32
    public let storageClass: String?
    /// The key of client-side encryption (`encryption_key_file`); must be one the archive
    /// identity lists, and must be set exactly when the archive is encrypted.
    public let encryptionKey: EncryptionKey?
    /// Compresses on a second thread while the claim is stored (see above). The call's own file
    /// does, where a push's latency counts; push-ahead threads, already several uploads at once,
    /// do not: there it would only add threads and read-ahead buffers.
    public let compressesWhileClaiming: Bool

    public var layout: StorageLayout { StorageLayout(prefix: storeIdentity.prefix) }

    public init(store: any ObjectStore, storeIdentity: StoreIdentity, archiveIdentity: ArchiveIdentity,
                identityCheck: ArchiveIdentityCheck? = nil, compression: CompressionAlgorithm = .default,
                compressionLevel: Int32? = nil, storageClass: String? = nil, encryptionKey: EncryptionKey? = nil,
                compressesWhileClaiming: Bool = true) {
        self.encryptionKey = encryptionKey
        self.compressesWhileClaiming = compressesWhileClaiming
        self.store = store
        self.storeIdentity = storeIdentity
        self.archiveIdentity = archiveIdentity
        self.identityCheck = identityCheck
        self.compression = compression
        self.compressionLevel = compressionLevel ?? compression.defaultLevel
        self.storageClass = storageClass
    }

    /// The operation as the configuration describes it.
    public init(store: any ObjectStore, configuration: Configuration, archiveIdentity: ArchiveIdentity,
                identityCheck: ArchiveIdentityCheck? = nil, compressesWhileClaiming: Bool = true) {
        self.init(store: store, storeIdentity: configuration.storeIdentity, archiveIdentity: archiveIdentity,
                  identityCheck: identityCheck, compression: configuration.compression,
                  compressionLevel: configuration.compressionLevel, storageClass: configuration.storageClass,
                  encryptionKey: configuration.encryptionKeys?.writeKey, compressesWhileClaiming: compressesWhileClaiming)
    }

    public func archive(path: String) throws(ArchiveError) -> Outcome {
        try archiveReportingChecksum(path: path).outcome
    }

    /// `archive(path:)`, with the SHA-256 of the file's content as it was read for the upload
    /// (or the comparison), so that a caller recording the push need not read the file again.
    func archiveReportingChecksum(path: String) throws(ArchiveError) -> (outcome: Outcome, originalSHA256Hex: String) {
        let name = FileOperations.baseName(path)
        let fileName: WALFileName
        do {
            fileName = try WALFileName(parsing: name)
        } catch {
            throw .invalidFile(detail: error.message)
        }
        let validated: ValidatedWALFile
        do {
            validated = try WALFileValidator.validate(path: path, as: fileName)
        } catch {
            if case .unreadable = error { throw .localFile(detail: error.message) }
            throw .invalidFile(detail: error.message)
        }
        try checkSystem(of: validated, path: path)
        try checkEncryption(name: name)
        if case .timelineHistory = fileName.kind {
            let upload = try prepare(path, .none)
            let key = layout.historyKey(name: name)
            return (try storeData(upload, key: key), upload.originalSHA256Hex)
        }
        let date: String
        do {
            date = try FileOperations.modificationTime(path).calendarDate
        } catch {
            throw .localFile(detail: error.message)
        }
        let preparation = UploadPreparation(sourcePath: path, algorithm: compression, level: compressionLevel,
                                            encryption: encryptionKey, concurrently: compressesWhileClaiming)
        let original = try checksum(preparation)
        let relativeKey = date + "/" + name + compression.keySuffix
        let claim = NameClaim(name: name, relativeKey: relativeKey, sha256Hex: original.sha256Hex,
                              size: original.size, compression: compression)
        let claimKey = NameClaim.key(name: name, layout: layout)
        switch try putIfAbsent(PutRequest(key: claimKey, bytes: [], metadata: claim.metadata)) {
        case .stored:
            do {
                // Only now, with the claim stored, does the data go out.
                let upload = try prepared(preparation)
                return (try storeData(upload, key: claim.dataKey(layout)), original.sha256Hex)
            } catch {
                // A conflict with an object that predates claims at this very key: the claim
                // just written names content that is not there. This call wrote it a moment ago
                // and nothing stored under it, so removing it is safe; the object stays.
                if case .conflict = error { try? store.delete(key: claimKey) }
                throw error
            }
        case .alreadyExists:
            let existing = try readClaim(claimKey, name: name)
            guard existing.sha256Hex == original.sha256Hex else {
                throw .conflict(location: storeIdentity.describe(key: existing.dataKey(layout)),
                                detail: "archived SHA-256 \(existing.sha256Hex.prefix(16))…, this file "
                                    + "\(original.sha256Hex.prefix(16))…")
            }
            // This very file was claimed before. Its data is normally there (a retry after a
            // lost answer): one HEAD, no upload. It is missing if that push died between the two
            // PUTs: store it under the claimed key, in the claimed encoding.
            let dataKey = existing.dataKey(layout)
            if let stored = try head(dataKey) {
                try requireSameContent(stored, as: original.sha256Hex, key: dataKey)
                return (.alreadyArchived(key: dataKey), original.sha256Hex)
            }
            let upload = try prepared(preparation)
            let claimed = existing.compression == compression ? upload : try prepare(path, existing.compression)
            return (try storeData(claimed, key: dataKey), original.sha256Hex)
        }
    }

    /// A segment's header, or the pushing server's pg_control for text files, against the
    /// archive identity (read again from the store before refusing, if it came from the copy).
    private func checkSystem(of file: ValidatedWALFile, path: String) throws(ArchiveError) {
        let system: UInt64
        if let header = file.header {
            system = header.systemIdentifier
        } else {
            let walDirectory = WALDirectory(containing: path)
            guard walDirectory.isPGWAL, let own = DataDirectory(path: walDirectory.dataDirectory).systemIdentifier() else { return }
            system = own
        }
        guard system != archiveIdentity.systemIdentifier else { return }
        var current = archiveIdentity
        if let identityCheck {
            do {
                current = try identityCheck.refresh()
            } catch {
                throw .archiveIdentity(error, name: file.name.description)
            }
            if current.systemIdentifier == system { return }
        }
        let file = file.header == nil ? "this server (its pg_control), pushing \(file.name)," : file.name.description
        throw .otherSystem(file: file, system: system, archive: current,
                           location: storeIdentity.describe(key: ArchiveIdentityObject.key(layout)))
    }

    /// Stores the body under `key` unless an object is there; an object there with the same
    /// `wal-sha256` means already archived, any other is a conflict.
    private func storeData(_ upload: PreparedUpload, key: String) throws(ArchiveError) -> Outcome {
        switch try putIfAbsent(upload.putRequest(key: key, ifAbsent: true, storageClass: storageClass)) {
        case .stored:
            return .stored(key: key)
        case .alreadyExists:
            guard let existing = try head(key) else {
                throw .storage(.invalidResponse(detail: "the store reported \(key) as existing, then as absent"), key: key)
            }
            try requireSameContent(existing, as: upload.originalSHA256Hex, key: key)
            return .alreadyArchived(key: key)
        }
    }

    /// The object at `key` holds this very file (same `wal-sha256`), else a conflict.
    private func requireSameContent(_ existing: ObjectInfo, as sha256Hex: String, key: String) throws(ArchiveError) {
        guard let archived = existing.metadata[PayloadMetadata.sha256Name] else {
            throw .conflict(location: storeIdentity.describe(key: key), detail: "the archived object has no wal-sha256 to compare")
        }
        guard archived == sha256Hex else {
            throw .conflict(location: storeIdentity.describe(key: key),
                            detail: "archived SHA-256 \(archived.prefix(16))…, this file \(sha256Hex.prefix(16))…")
        }
    }

    /// A conditional PUT; where the store does not implement it, a HEAD then a plain PUT (a
    /// concurrent writer between the two could then win, which such a store cannot prevent).
    private func putIfAbsent(_ request: PutRequest) throws(ArchiveError) -> PutOutcome {
        var request = request
        request.ifAbsent = true
        do {
            return try store.put(request)
        } catch {
            guard error.isConditionalWriteUnsupported else { throw .storage(error, key: request.key) }
        }
        if try head(request.key) != nil { return .alreadyExists }
        request.ifAbsent = false
        do {
            return try store.put(request)
        } catch {
            throw .storage(error, key: request.key)
        }
    }

    private func readClaim(_ key: String, name: String) throws(ArchiveError) -> NameClaim {
        guard let object = try head(key) else {
            throw .storage(.invalidResponse(detail: "the store reported \(key) as existing, then as absent"), key: key)
        }
        do {
            return try NameClaim(object: object, name: name)
        } catch {
            throw .conflict(location: storeIdentity.describe(key: key), detail: error.message)
        }
    }

    /// Stores nothing unless the configured key fits the archive: an encrypted archive takes
    /// only objects encrypted with one of its keys, an unencrypted one only plaintext (a reader
    /// without a key must be able to read all of it). An identity from the local copy is read
    /// again before refusing (a key may just have been added).
    private func checkEncryption(name: String) throws(ArchiveError) {
        guard var problem = archiveIdentity.encryptionProblem(writeKey: encryptionKey) else { return }
        if let identityCheck {
            let current: ArchiveIdentity
            do {
                current = try identityCheck.refresh()
            } catch {
                throw .archiveIdentity(error, name: name)
            }
            guard let remaining = current.encryptionProblem(writeKey: encryptionKey) else { return }
            problem = remaining
        }
        throw .encryption(location: storeIdentity.describe(key: ArchiveIdentityObject.key(layout)), detail: problem)
    }

    /// Hashes (and compresses) the file in one read; the compressed copy is kept in memory,
    /// never on disk (`UploadMemory`), so a full `pg_wal` does not stop archiving.
    private func prepare(_ path: String, _ algorithm: CompressionAlgorithm) throws(ArchiveError) -> PreparedUpload {
        do {
            return try PreparedUpload(sourcePath: path, algorithm: algorithm,
                                      level: algorithm == compression ? compressionLevel : nil, encryption: encryptionKey)
        } catch {
            throw .localFile(detail: error.message)
        }
    }

    /// The file's SHA-256 and size, read on this thread (`preparation` compresses what is read).
    private func checksum(_ preparation: UploadPreparation) throws(ArchiveError) -> PreparedUpload.Checksum {
        do {
            return try preparation.checksum()
        } catch {
            throw .localFile(detail: error.message)
        }
    }

    /// The upload `preparation` made of the bytes its checksum covers.
    private func prepared(_ preparation: UploadPreparation) throws(ArchiveError) -> PreparedUpload {
        do {
            return try preparation.upload()
        } catch {
            throw .localFile(detail: error.message)
        }
    }

    private func head(_ key: String) throws(ArchiveError) -> ObjectInfo? {
        do {
            return try store.head(key: key)
        } catch {
            throw .storage(error, key: key)
        }
    }
}
