import Glibc

/// Downloads one archived file through the same checks `wal-fetch` makes (`VerifyingFileSink`:
/// decompression, size, SHA-256, the file's structure for its name) into a temporary file that
/// is removed again: for reading small files (history, backup history) and for `verify --deep`.
enum VerifiedDownload {
    enum Failure: Error {
        /// The store failed; the archive's content is unknown.
        case storage(StorageError)
        /// The object is there but is not a good copy of the file; the message names it.
        case damaged(String)
    }

    /// The file's content (at most `limit` bytes: history and backup history files are small).
    static func contents(of file: ArchivedFile, from store: any ObjectStore, temporaryDirectory: String,
                         decryption: ObjectDecryption, limit: Int = 1 << 20) throws(Failure) -> [UInt8] {
        try withVerifiedFile(file, from: store, temporaryDirectory: temporaryDirectory, decryption: decryption) { path throws(Failure) in
            do throws(FileOperations.Failure) {
                return try FileOperations.readWholeFile(path, limit: limit)
            } catch {
                throw .storage(.localIO(detail: error.message))
            }
        }
    }

    /// Downloads and verifies a segment; returns its first page header.
    static func segmentHeader(of file: ArchivedFile, from store: any ObjectStore, temporaryDirectory: String,
                              decryption: ObjectDecryption) throws(Failure) -> WALLongPageHeader {
        try withVerifiedFile(file, from: store, temporaryDirectory: temporaryDirectory, decryption: decryption) { path throws(Failure) in
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw .storage(.localIO(detail: "cannot open \(path): \(String(cString: strerror(errno)))"))
            }
            defer { close(descriptor) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WALLongPageHeader.byteCount, alignment: 16)
            defer { buffer.deallocate() }
            do throws(FileOperations.Failure) {
                _ = try FileOperations.readFully(descriptor, into: buffer, at: 0, path: path)
            } catch {
                throw .storage(.localIO(detail: error.message))
            }
            // The sink validated the header for this name already; decoding it cannot fail.
            guard let header = WALLongPageHeader(UnsafeRawBufferPointer(buffer)) else {
                throw .damaged("\(file.key) has no WAL page header")
            }
            return header
        }
    }

    private static func withVerifiedFile<Result>(_ file: ArchivedFile, from store: any ObjectStore, temporaryDirectory: String,
                                                 decryption: ObjectDecryption, _ body: (String) throws(Failure) -> Result) throws(Failure) -> Result {
        let sink: VerifyingFileSink
        do {
            sink = try VerifyingFileSink(directory: temporaryDirectory, expecting: file.name, decryption: decryption)
        } catch {
            throw .storage(.localIO(detail: error.message))
        }
        defer { sink.discard() }
        do {
            try store.get(key: file.key, into: sink)
        } catch {
            switch error {
            case .sinkFailed(let detail): throw .damaged(detail)
            case .notFound: throw .damaged("\(file.key) was listed but is gone")
            default: throw .storage(error)
            }
        }
        do {
            try sink.finish()
        } catch {
            if case .localIO = error { throw .storage(.localIO(detail: error.message)) }
            throw .damaged(error.message)
        }
        return try body(sink.temporaryPath)
    }
}
