/// `wal-push`: validates one file from `pg_wal`, and stores it once.
///
/// Idempotent by construction: HEAD first; an object with the same `wal-sha256` means the
/// file is already archived (success, no upload); a different one is refused and kept. Else a
/// conditional PUT (`If-None-Match: *`) so that a concurrent writer cannot be overwritten
/// either; a store that answers it does not implement conditional writes (501 /
/// `NotImplemented`) gets a plain PUT, the HEAD having just found the key free.
public struct ArchiveOperation {
    public enum Outcome: Sendable, Equatable {
        case stored(key: String)
        case alreadyArchived(key: String)
    }

    public let store: any ObjectStore
    public let layout: StorageLayout
    public let compression: CompressionAlgorithm
    public let compressionLevel: Int32
    public let storageClass: String?

    public init(store: any ObjectStore, layout: StorageLayout, compression: CompressionAlgorithm = .default,
                compressionLevel: Int32? = nil, storageClass: String? = nil) {
        self.store = store
        self.layout = layout
        self.compression = compression
        self.compressionLevel = compressionLevel ?? compression.defaultLevel
        self.storageClass = storageClass
    }

    /// The operation as the configuration describes it.
    public init(store: any ObjectStore, configuration: Configuration) {
        self.init(store: store, layout: configuration.layout, compression: configuration.compression,
                  compressionLevel: configuration.compressionLevel, storageClass: configuration.storageClass)
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
        do {
            _ = try WALFileValidator.validate(path: path, as: fileName)
        } catch {
            if case .unreadable = error { throw .localFile(detail: error.message) }
            throw .invalidFile(detail: error.message)
        }
        let key: String
        let algorithm: CompressionAlgorithm
        if case .timelineHistory = fileName.kind {
            key = layout.historyKey(name: name)
            algorithm = .none
        } else {
            let date: String
            do {
                date = try FileOperations.modificationTime(path).calendarDate
            } catch {
                throw .localFile(detail: error.message)
            }
            algorithm = compression
            key = layout.segmentKey(name: name, date: date, suffix: algorithm.keySuffix)
        }
        if let existing = try head(key) {
            // Only the original's SHA-256 is needed: hash without compressing.
            let original = try prepare(path, .none)
            return (try compare(existing, with: original, key: key), original.originalSHA256Hex)
        }
        let upload = try prepare(path, algorithm)
        var request = upload.putRequest(key: key, ifAbsent: true, storageClass: storageClass)
        let outcome: PutOutcome
        do {
            outcome = try store.put(request)
        } catch {
            guard error.isConditionalWriteUnsupported else { throw .storage(error, key: key) }
            request.ifAbsent = false
            do {
                outcome = try store.put(request)
            } catch {
                throw .storage(error, key: key)
            }
        }
        switch outcome {
        case .stored:
            return (.stored(key: key), upload.originalSHA256Hex)
        case .alreadyExists:
            // Another push of this name won the race; it may be this very file.
            guard let existing = try head(key) else {
                throw .storage(.invalidResponse(detail: "the store reported \(key) as existing, then as absent"), key: key)
            }
            return (try compare(existing, with: upload, key: key), upload.originalSHA256Hex)
        }
    }

    /// Hashes (and compresses) the file in one read; the compressed copy is kept in memory,
    /// never on disk (`UploadMemory`), so a full `pg_wal` does not stop archiving.
    private func prepare(_ path: String, _ algorithm: CompressionAlgorithm) throws(ArchiveError) -> PreparedUpload {
        do {
            return try PreparedUpload(sourcePath: path, algorithm: algorithm,
                                      level: algorithm == compression ? compressionLevel : nil)
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

    private func compare(_ existing: ObjectInfo, with upload: PreparedUpload, key: String) throws(ArchiveError) -> Outcome {
        guard let archived = existing.metadata[PayloadMetadata.sha256Name] else {
            throw .conflict(key: key, detail: "the archived object has no wal-sha256 to compare")
        }
        guard archived == upload.originalSHA256Hex else {
            throw .conflict(key: key, detail: "archived SHA-256 \(archived.prefix(16))…, this file \(upload.originalSHA256Hex.prefix(16))…")
        }
        return .alreadyArchived(key: key)
    }
}
