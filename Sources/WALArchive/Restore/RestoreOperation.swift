/// `wal-fetch`: finds one archived file and writes it to `%p` atomically and verified.
///
/// The object is streamed through `VerifyingFileSink` into a temporary file next to `%p`
/// (`.wal-archive-tmp.<pid>.<random>`); only once its size, SHA-256 and WAL structure are
/// proven, and a segment's page header names the archive's own system, is it renamed to `%p`.
/// Every failure path removes the temporary file, and so does an interrupting signal; the file
/// of a SIGKILLed fetch is removed by the next call.
public struct RestoreOperation {
    public let store: any ObjectStore
    public let storeIdentity: StoreIdentity
    public let archiveIdentity: ArchiveIdentity
    public let searchesLegacyFlatLayout: Bool
    /// Suffix of the configured compression, tried first.
    public let preferredSuffix: String
    /// The keys of client-side encryption, and whether every object must be encrypted.
    public let decryption: ObjectDecryption

    public var layout: StorageLayout { StorageLayout(prefix: storeIdentity.prefix) }

    public init(store: any ObjectStore, storeIdentity: StoreIdentity, archiveIdentity: ArchiveIdentity,
                searchesLegacyFlatLayout: Bool = false, preferredSuffix: String = CompressionAlgorithm.default.keySuffix,
                decryption: ObjectDecryption = .none) {
        self.decryption = decryption
        self.store = store
        self.storeIdentity = storeIdentity
        self.archiveIdentity = archiveIdentity
        self.searchesLegacyFlatLayout = searchesLegacyFlatLayout
        self.preferredSuffix = preferredSuffix
    }

    /// Writes the archived file `name` to `destination`; returns the key it came from.
    /// `whenFound` is called once with the object's headers, as soon as the file's object is
    /// known to be in the archive (the first bytes of its body are arriving, before they are
    /// written or verified): what a caller starts there runs while the rest downloads. Never
    /// called for a file that is not found.
    @discardableResult
    public func restore(name: String, to destination: String,
                        whenFound: ((ObjectInfo) -> Void)? = nil) throws(RestoreError) -> String {
        let fileName: WALFileName
        do {
            fileName = try WALFileName(parsing: name)
        } catch {
            throw .invalidName(detail: error.message)
        }
        let walDirectory = WALDirectory(containing: destination)
        let directory = walDirectory.path
        walDirectory.cleanUpBeforeRestore()
        let sink: VerifyingFileSink
        do {
            sink = try VerifyingFileSink(directory: directory, expecting: fileName, decryption: decryption)
        } catch {
            throw Self.localFailure(error, directory: directory)
        }
        defer { sink.discard() }
        let key: String
        do {
            key = try download(fileName, into: whenFound.map { FoundSignal(forwardingTo: sink, whenFound: $0) } ?? sink,
                               hintDirectory: walDirectory.stateDirectory)
        } catch {
            // The sink's own write failed: that is this machine's disk, not the archive.
            if let failure = sink.writeFailure { throw Self.localFailure(failure, directory: directory) }
            if let failure = sink.keyFailure { throw .encryption(detail: failure.message) }
            throw error
        }
        let verified: VerifyingFileSink.Verified
        do {
            verified = try sink.finish()
        } catch {
            if error.isLocal { throw Self.localFailure(error, directory: directory) }
            throw .verification(detail: error.message)
        }
        if let header = verified.header, header.systemIdentifier != archiveIdentity.systemIdentifier {
            throw .otherSystem(detail: "\(storeIdentity.describe(key: key)) holds WAL of system \(header.systemIdentifier), "
                + "but the archive belongs to \(archiveIdentity.summary): another cluster's file under this name")
        }
        do {
            try sink.commit(to: destination)
        } catch {
            if error.isLocal { throw Self.localFailure(error, directory: directory) }
            throw .verification(detail: error.message)
        }
        return key
    }

    private static func localFailure(_ error: PayloadError, directory: String) -> RestoreError {
        if case .noSpace = error { return .destinationFull(directory: directory, detail: error.message) }
        return .localFile(detail: error.message)
    }

    private func download(_ fileName: WALFileName, into sink: any ObjectSink, hintDirectory: String) throws(RestoreError) -> String {
        let name = fileName.description
        let key: String?
        do {
            key = try fetch(fileName, into: sink, hintDirectory: hintDirectory)
        } catch {
            switch error {
            case .storage(let storageError):
                if case .sinkFailed(let detail) = storageError { throw .verification(detail: detail) }
                throw .storage(storageError, name: name)
            case .differentCopies(let name, let keys):
                throw .ambiguous(detail: "\(name) is archived under several keys with different content: "
                    + keys.map { storeIdentity.describe(key: $0) }.joined(separator: ", "))
            case .unusableClaim(let claimError):
                throw .ambiguous(detail: claimError.message)
            }
        }
        guard let key else { throw .notFound(name: name, location: storeIdentity.description) }
        return key
    }

    /// The key the file came from, or nil when the archive does not have it.
    private func fetch(_ fileName: WALFileName, into sink: any ObjectSink, hintDirectory: String) throws(LocatorError) -> String? {
        let locator = SegmentLocator(store: store, layout: layout,
                                     suffixes: CompressionAlgorithm.keySuffixes(preferring: preferredSuffix),
                                     searchesLegacyFlatLayout: searchesLegacyFlatLayout,
                                     hints: LocatorHints(directory: hintDirectory, storeIdentity: storeIdentity))
        guard case .timelineHistory = fileName.kind else {
            return try locator.fetch(fileName.description, into: sink)?.0.key
        }
        // History files: one undated key, then (an `aws s3 cp` script's) the flat layout.
        let key = layout.historyKey(name: fileName.description)
        do {
            try store.get(key: key, into: sink)
            return key
        } catch {
            guard case .notFound = error else { throw .storage(error) }
        }
        guard searchesLegacyFlatLayout else { return nil }
        let variants: [SegmentLocator.Location]?
        do {
            variants = try locator.probeFlat(fileName.description)
        } catch {
            throw .storage(error)
        }
        guard let variants else { return nil }
        let chosen = try locator.choose(variants, name: fileName.description)
        do {
            try store.get(key: chosen.key, into: sink)
        } catch {
            throw .storage(error)
        }
        return chosen.key
    }
}
