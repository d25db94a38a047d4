import Glibc

/// Receives an archived object, decrypts it (per `wal-encryption`, with `ObjectDecryption`'s
/// keys: each chunk proven before its bytes go on), decodes it (per its `wal-compression` metadata) into a
/// temporary file next to the destination, and proves it before anything is renamed into
/// place: the SHA-256 and size of the decoded bytes against `wal-sha256`/`wal-size`, and,
/// when the requested name is known, the file's own structure against that name
/// (WALFileValidator: a segment's first page header, a history file's lines). The last
/// check also catches an object that was found under the wrong key, and is what remains
/// for objects of older or foreign writers that carry no checksum.
///
/// Use: `get(key:into:)`, then `finish()`, then `commit(to: %p)`; on any failure do nothing
/// more (or call `discard()`): the temporary file is removed when the sink goes away.
///
/// `commit` does not fsync. PostgreSQL treats what restore_command writes as temporary:
/// RestoreArchivedFile (src/backend/access/transam/xlogarchive.c) restores into
/// `pg_wal/RECOVERYXLOG` (or RECOVERYHISTORY), removing any leftover of that name before
/// every call, and reads it from there; after a crash, recovery starts again from the last
/// restart point and asks the archive again. When it keeps a restored file,
/// KeepFileRestoredFromArchive renames it with durable_rename (src/backend/storage/file/fd.c),
/// which fsyncs the file before the rename and the directory after. So an fsync here would
/// only slow down every segment of a recovery.
public final class VerifyingFileSink: ObjectSink {
    /// Largest decoded size accepted when the metadata gives none: the largest WAL segment.
    public static let sizeLimitWithoutMetadata = Int64(WALSegmentSize.maximumBytes)

    public struct Verified: Sendable, Equatable {
        public var key: String
        public var size: Int64
        public var sha256Hex: String
        public var algorithm: CompressionAlgorithm
        /// False for an object without `wal-sha256`: only its structure could be checked.
        public var checksumVerified: Bool
        /// The long page header of a segment or `.partial` file (which system wrote it).
        public var header: WALLongPageHeader?
    }

    public let expectedName: WALFileName?
    public let decryption: ObjectDecryption
    public let temporaryPath: String
    /// Set when the last attempt could not be read for want of the right key (none configured,
    /// another key's object, a plaintext object in an encrypted archive): a matter of the
    /// configuration or of a foreign object, not of bytes damaged on the way.
    public private(set) var keyFailure: PayloadError?
    /// The local failure (writing the temporary file) that ended the last attempt, if one did:
    /// a store reports it as `StorageError.localIO`, and this tells a full file system apart.
    public private(set) var writeFailure: PayloadError?
    private var descriptor: Int32
    private var attempt: Attempt?
    private var verified: Verified?
    private var committed = false
    /// Whether `begin` ran before: the temporary file may hold an earlier attempt's bytes.
    private var attempted = false

    /// One download attempt's state; replaced by `begin`.
    private final class Attempt {
        let key: String
        let metadata: PayloadMetadata
        let decryptor: ChunkDecryptor?
        let decompressor: StreamDecompressor
        let sizeLimit: Int64
        /// Writes and hashes the decoded bytes on its own thread while this one decompresses.
        let writer: BackgroundFileWriter
        var size: Int64 = 0
        var failure: PayloadError?

        init(key: String, metadata: PayloadMetadata, decryptor: ChunkDecryptor?, decompressor: StreamDecompressor,
             sizeLimit: Int64, writer: BackgroundFileWriter) {
            self.key = key
            self.metadata = metadata
            self.decryptor = decryptor
            self.decompressor = decompressor
            self.sizeLimit = sizeLimit
            self.writer = writer
        }
    }

    /// Creates the temporary file in `directory` (the directory of %p, so the final rename
    /// stays within one file system); it is tracked for removal if the process is interrupted.
    public init(directory: String, expecting expectedName: WALFileName?, decryption: ObjectDecryption = .none)
        throws(PayloadError) {
        self.expectedName = expectedName
        self.decryption = decryption
        temporaryPath = TemporaryFileCleanup.track(in: directory)
        // 0666 and the umask (PostgreSQL sets it for its children to match the data directory).
        descriptor = open(temporaryPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            let code = errno
            TemporaryFileCleanup.untrack()
            throw .local(operation: "create", path: temporaryPath, code: code)
        }
    }

    deinit { discard() }

    public func begin(_ object: ObjectInfo) throws(StorageError) {
        verified = nil
        // Dropping the previous attempt waits for its writer thread: nothing of it is written
        // after the truncation.
        attempt = nil
        writeFailure = nil
        keyFailure = nil
        // Only a second attempt empties the file: ext4 starts writing back, at close, a file
        // that was truncated to zero (its auto_da_alloc guard for programs that rewrite a file
        // in place), which would cost every fetch a flush of the whole segment.
        guard !attempted || (ftruncate(descriptor, 0) == 0 && lseek(descriptor, 0, SEEK_SET) == 0) else {
            let failure = PayloadError.local(operation: "reset", path: temporaryPath, code: errno)
            writeFailure = failure
            throw .localIO(detail: failure.message)
        }
        attempted = true
        do throws(PayloadError) {
            let metadata = try PayloadMetadata(object: object)
            let decryptor: ChunkDecryptor?
            do { decryptor = try decryption.decryptor(for: metadata, key: object.key) } catch {
                keyFailure = error
                throw error
            }
            let decompressor: StreamDecompressor
            do { decompressor = try StreamDecompressor(algorithm: metadata.algorithm) } catch {
                throw .corruptObject(key: object.key, detail: error.message)
            }
            // Without wal-size, a plain (uncompressed, unencrypted) object's own length is the size to expect.
            let expectedSize = metadata.originalSize ?? (metadata.isPlain ? object.size : nil)
            attempt = Attempt(key: object.key, metadata: metadata, decryptor: decryptor, decompressor: decompressor,
                              sizeLimit: expectedSize ?? Self.sizeLimitWithoutMetadata,
                              writer: BackgroundFileWriter(descriptor: descriptor, path: temporaryPath))
        } catch {
            throw .sinkFailed(detail: error.message)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard let attempt else { throw .sinkFailed(detail: PayloadError.notBegun.message) }
        if let failure = attempt.failure { throw storageError(failure) }
        do throws(PayloadError) {
            try decode(bytes, attempt)
        } catch {
            attempt.failure = error
            throw storageError(error)
        }
    }

    /// Decrypts (if encrypted) and decompresses `bytes` into the temporary file.
    private func decode(_ bytes: UnsafeRawBufferPointer, _ attempt: Attempt) throws(PayloadError) {
        let decompress = { (plain: UnsafeRawBufferPointer) throws(CodecFailure<PayloadError>) in
            try attempt.decompressor.push(plain) { (output) throws(PayloadError) in try self.append(output, attempt) }
        }
        do throws(CipherFailure<CodecFailure<PayloadError>>) {
            guard let decryptor = attempt.decryptor else {
                do { try decompress(bytes) } catch { throw .output(error) }
                return
            }
            try decryptor.push(bytes, output: decompress)
        } catch {
            throw Self.payloadError(error, attempt.key)
        }
    }

    /// Ends decryption (the last chunk is proven here) and decompression.
    private func endDecoding(_ attempt: Attempt) throws(PayloadError) {
        let decompress = { (plain: UnsafeRawBufferPointer) throws(CodecFailure<PayloadError>) in
            try attempt.decompressor.push(plain) { (output) throws(PayloadError) in try self.append(output, attempt) }
        }
        do throws(CipherFailure<CodecFailure<PayloadError>>) {
            try attempt.decryptor?.finish(output: decompress)
            do {
                try attempt.decompressor.finish { (output) throws(PayloadError) in try self.append(output, attempt) }
            } catch {
                throw .output(error)
            }
        } catch {
            throw Self.payloadError(error, attempt.key)
        }
    }

    /// Verifies the attempt once its whole body has arrived (see `finish`), so that a store
    /// can download again when the bytes were damaged on the way.
    public func end() throws(StorageError) {
        do { try finish() } catch { throw storageError(error) }
    }

    /// A local failure (writing the temporary file) ends the download; damaged bytes are
    /// `sinkFailed`, which a store may retry.
    private func storageError(_ failure: PayloadError) -> StorageError {
        guard failure.isLocal else { return .sinkFailed(detail: failure.message) }
        writeFailure = failure
        return .localIO(detail: failure.message)
    }

    /// Ends decoding and verifies; throws, naming the object, unless every check passes.
    @discardableResult
    public func finish() throws(PayloadError) -> Verified {
        if let verified { return verified }
        guard let attempt else { throw .notBegun }
        if let failure = attempt.failure { throw failure }
        do {
            try endDecoding(attempt)
        } catch {
            attempt.failure = error
            throw error
        }
        let metadata = attempt.metadata
        let sha256Hex: String
        do { sha256Hex = try attempt.writer.finish().hexString } catch {
            let failure = PayloadError.local(operation: "write", path: temporaryPath, code: error.code)
            attempt.failure = failure
            throw failure
        }
        if let expectedSize = metadata.originalSize ?? (metadata.isPlain ? attempt.sizeLimit : nil),
           expectedSize != attempt.size {
            attempt.failure = .sizeMismatch(key: attempt.key, expected: expectedSize, actual: attempt.size)
        } else if let expectedHex = metadata.originalSHA256Hex, expectedHex != sha256Hex {
            attempt.failure = .checksumMismatch(key: attempt.key, expected: expectedHex, actual: sha256Hex)
        }
        var header: WALLongPageHeader?
        if attempt.failure == nil, let expectedName {
            do { header = try WALFileValidator.validate(descriptor: descriptor, path: temporaryPath, as: expectedName).header } catch {
                attempt.failure = .invalidContent(key: attempt.key, detail: error.message)
            }
        }
        if let failure = attempt.failure { throw failure }
        let result = Verified(key: attempt.key, size: attempt.size, sha256Hex: sha256Hex,
                              algorithm: metadata.algorithm, checksumVerified: metadata.originalSHA256Hex != nil, header: header)
        verified = result
        return result
    }

    /// Renames the verified file to `path` (no fsync: see the type's documentation).
    public func commit(to path: String) throws(PayloadError) {
        guard verified != nil, !committed else { throw .notBegun }
        guard rename(temporaryPath, path) == 0 else {
            throw .local(operation: "rename \(temporaryPath) to", path: path, code: errno)
        }
        committed = true
        close(descriptor)
        descriptor = -1
        TemporaryFileCleanup.untrack()
    }

    /// Removes the temporary file unless it was committed; safe to call more than once.
    public func discard() {
        guard !committed else { return }
        committed = true
        // Its writer thread ends before the descriptor is closed (and its number reused).
        attempt = nil
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporaryPath)
        TemporaryFileCleanup.untrack()
    }

    private func append(_ bytes: UnsafeRawBufferPointer, _ attempt: Attempt) throws(PayloadError) {
        guard attempt.size + Int64(bytes.count) <= attempt.sizeLimit else {
            throw .sizeMismatch(key: attempt.key, expected: attempt.sizeLimit, actual: attempt.size + Int64(bytes.count))
        }
        attempt.size += Int64(bytes.count)
        do { try attempt.writer.write(bytes) } catch {
            throw .local(operation: "write", path: temporaryPath, code: error.code)
        }
    }

    private static func payloadError(_ error: CipherFailure<CodecFailure<PayloadError>>, _ key: String) -> PayloadError {
        switch error {
        case .cipher(let cipherError): return .encryption(key: key, detail: cipherError.message)
        case .output(.codec(let codecError)): return .corruptObject(key: key, detail: codecError.message)
        case .output(.output(let outputError)): return outputError
        }
    }
}
