import Glibc

/// A compressed body that is never stored: it is produced again from the source file while it
/// is sent, for files whose compressed copy does not fit the process's `UploadMemory` (a large
/// `wal_segment_size`, incompressible WAL). `PreparedUpload` compressed the file once already,
/// to learn the length and SHA-256 that the PUT announces; compression is deterministic (the
/// same library, level and input chunks give the same bytes), so this pass reproduces them.
/// Should the file have changed in between, the bytes differ: the body then fails before its
/// last byte is handed out, so no store can accept it.
///
/// An encrypted body is encrypted again with the same key and salt, which gives the same bytes.
///
/// Memory: one source chunk and the output it compresses to, plus the codec's state.
final class RecompressingUploadBody: UploadBody {
    let length: Int64
    private let source: Int32
    private let sourcePath: String
    private let algorithm: CompressionAlgorithm
    private let level: Int32?
    private let encryption: (key: EncryptionKey, salt: [UInt8])?
    private var stage: EncryptionStage?
    private let expectedSHA256Hex: String
    private let chunk: UnsafeMutableRawBufferPointer
    private var compressor: StreamCompressor?
    private var hasher: SHA256Hasher?
    private var pending: [UInt8] = []
    private var pendingStart = 0
    /// Bytes handed out so far, and produced so far (handed out + pending).
    private var position: Int64 = 0
    private var produced: Int64 = 0
    private var sourceOffset: Int64 = 0
    private var sourceEnded = false

    /// Takes ownership of `source` (closed on deinit).
    init(source: Int32, sourcePath: String, algorithm: CompressionAlgorithm, level: Int32?,
         encryption: (key: EncryptionKey, salt: [UInt8])?, length: Int64, sha256Hex: String) {
        self.encryption = encryption
        self.source = source
        self.sourcePath = sourcePath
        self.algorithm = algorithm
        self.level = level
        self.length = length
        expectedSHA256Hex = sha256Hex
        chunk = .allocate(byteCount: PreparedUpload.readChunkSize, alignment: 16)
    }

    deinit {
        close(source)
        chunk.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int {
        if offset == 0 && (position != 0 || compressor == nil) { try restart() }
        guard offset == position else {
            throw .localIO(detail: "the compressed body of \(sourcePath) can only be read in order (asked for offset \(offset))")
        }
        while pending.count == pendingStart && !sourceEnded {
            try produce()
        }
        let count = min(buffer.count, pending.count - pendingStart)
        guard count > 0 else { return 0 }
        pending.withUnsafeBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[pendingStart..<(pendingStart + count)]))
        }
        pendingStart += count
        position += Int64(count)
        return count
    }

    private func restart() throws(StorageError) {
        do {
            compressor = try StreamCompressor(algorithm: algorithm, level: level)
        } catch {
            throw .localIO(detail: "compressing \(sourcePath) failed: \(error.message)")
        }
        var encryptor: ChunkEncryptor?
        if let encryption {
            do { encryptor = try ChunkEncryptor(key: encryption.key, salt: encryption.salt) } catch {
                throw .localIO(detail: "encrypting \(sourcePath) failed: \(error.message)")
            }
        }
        stage = EncryptionStage(encryptor: encryptor) { [unowned self] in pending.append(contentsOf: $0) }
        hasher = SHA256Hasher()
        pending.removeAll(keepingCapacity: true)
        pendingStart = 0
        position = 0
        produced = 0
        sourceOffset = 0
        sourceEnded = false
    }

    /// Compresses the next source chunk (or ends the stream) into `pending`. At the end, the
    /// whole output has been hashed before any of the last bytes are handed out.
    private func produce() throws(StorageError) {
        guard let compressor, let stage else { return }
        pending.removeAll(keepingCapacity: true)
        pendingStart = 0
        let count: Int
        do {
            count = try FileOperations.readFully(source, into: chunk, at: sourceOffset, path: sourcePath)
        } catch {
            throw .localIO(detail: error.message)
        }
        sourceOffset += Int64(count)
        let encrypt = { (bytes: UnsafeRawBufferPointer) throws(EncryptionError) in try stage.push(bytes) }
        do throws(CodecFailure<EncryptionError>) {
            if count > 0 {
                try compressor.push(UnsafeRawBufferPointer(rebasing: chunk[..<count]), output: encrypt)
            }
            if count < chunk.count {
                try compressor.finish(output: encrypt)
                do throws(EncryptionError) { try stage.finish() } catch { throw .output(error) }
                sourceEnded = true
            }
        } catch {
            switch error {
            case .codec(let codecError): throw .localIO(detail: "compressing \(sourcePath) failed: \(codecError.message)")
            case .output(let encryptionError): throw .localIO(detail: "encrypting \(sourcePath) failed: \(encryptionError.message)")
            }
        }
        pending.withUnsafeBytes { hasher?.update($0) }
        produced += Int64(pending.count)
        guard produced <= length, !sourceEnded || (produced == length && hasher.take()?.finalize().hexString == expectedSHA256Hex) else {
            pending.removeAll()
            throw .localIO(detail: "\(sourcePath) changed while it was being archived (its compressed bytes differ from the first pass)")
        }
    }
}
