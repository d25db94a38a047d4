/// `wal-fetch`: finds one archived file and writes it to `%p` atomically and verified.
///
/// The object is streamed through `VerifyingFileSink` into a temporary file next to `%p`
/// (`.wal-archive-tmp.<pid>.<random>`); only once its size, SHA-256 and WAL structure are
/// proven is it renamed to `%p`. Every failure path removes the temporary file, and so does
/// an interrupting signal; the file of a SIGKILLed fetch is removed by the next call.
public struct RestoreOperation {
    public let store: any ObjectStore
    public let layout: StorageLayout
    public let searchesLegacyFlatLayout: Bool
    /// Suffix of the configured compression, tried first.
    public let preferredSuffix: String

    public init(store: any ObjectStore, layout: StorageLayout, searchesLegacyFlatLayout: Bool = false,
                preferredSuffix: String = CompressionAlgorithm.default.keySuffix) {
        self.store = store
        self.layout = layout
        self.searchesLegacyFlatLayout = searchesLegacyFlatLayout
        self.preferredSuffix = preferredSuffix
    }

    /// Writes the archived file `name` to `destination`; returns the key it came from.
    @discardableResult
    public func restore(name: String, to destination: String) throws(RestoreError) -> String {
        let fileName: WALFileName
        do {
            fileName = try WALFileName(parsing: name)
        } catch {
            throw .invalidName(detail: error.message)
        }
        let walDirectory = WALDirectory(containing: destination)
        let directory = walDirectory.path
        TemporaryFileCleanup.removeAbandoned(in: directory)
        let sink: VerifyingFileSink
        do {
            sink = try VerifyingFileSink(directory: directory, expecting: fileName)
        } catch {
            throw Self.localFailure(error, directory: directory)
        }
        defer { sink.discard() }
        let key: String
        do {
            key = try download(fileName, into: sink, hintDirectory: walDirectory.stateDirectory)
        } catch {
            // The sink's own write failed: that is this machine's disk, not the archive.
            if let failure = sink.writeFailure { throw Self.localFailure(failure, directory: directory) }
            throw error
        }
        do {
            try sink.finish()
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

    private func download(_ fileName: WALFileName, into sink: VerifyingFileSink, hintDirectory: String) throws(RestoreError) -> String {
        let name = fileName.description
        let key: String?
        do {
            key = try fetch(fileName, into: sink, hintDirectory: hintDirectory)
        } catch {
            switch error {
            case .notFound: key = nil
            case .sinkFailed(let detail): throw .verification(detail: detail)
            default: throw .storage(error, name: name)
            }
        }
        guard let key else { throw .notFound(name: name, location: store.location) }
        return key
    }

    /// The key the file came from, or nil when the archive does not have it.
    private func fetch(_ fileName: WALFileName, into sink: VerifyingFileSink, hintDirectory: String) throws(StorageError) -> String? {
        if case .timelineHistory = fileName.kind {
            let key = layout.historyKey(name: fileName.description)
            try store.get(key: key, into: sink)
            return key
        }
        let locator = SegmentLocator(store: store, layout: layout,
                                     suffixes: CompressionAlgorithm.keySuffixes(preferring: preferredSuffix),
                                     searchesLegacyFlatLayout: searchesLegacyFlatLayout,
                                     hints: LocatorHints(directory: hintDirectory,
                                                         archiveLocation: store.location + "/" + layout.prefix))
        return try locator.fetch(fileName.description, into: sink)?.0.key
    }
}
