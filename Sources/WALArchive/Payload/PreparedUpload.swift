import Glibc

/// A file made ready for `ObjectStore.put` in one read of the source: the original is hashed
/// and compressed, and the compressed body hashed and kept in memory (`UploadMemory`: why
/// memory, and what happens when it is full). For `none` the source itself is the body.
/// Nothing is ever written to disk, so a full `pg_wal` cannot stop archiving.
public final class PreparedUpload {
    static let readChunkSize = 256 * 1024

    /// Where the body's bytes come from.
    public enum BodySource: Sendable, Equatable {
        /// The source file itself (`none`).
        case sourceFile
        /// The compressed copy, in memory.
        case memory
        /// Compressed again from the source while it is sent (did not fit in memory).
        case recompressed
    }

    public let body: any UploadBody
    public let bodySource: BodySource
    public var bodyLength: Int64 { body.length }
    /// Lower-case hex SHA-256 of exactly the body's bytes (what S3 verifies on arrival).
    public let bodySHA256Hex: String
    public let metadata: PayloadMetadata

    public var algorithm: CompressionAlgorithm { metadata.algorithm }
    public var originalSHA256Hex: String { metadata.originalSHA256Hex ?? "" }
    public var originalSize: Int64 { metadata.originalSize ?? 0 }

    /// Reads `sourcePath` once; a compressed body takes its memory from `memory`. With
    /// `encryption`, the compressed bytes are encrypted (`ChunkEncryptor`) before they are
    /// kept: compress, then encrypt (ciphertext does not compress). An encrypted body is never
    /// the source file itself, so `none` then goes through the memory path too.
    public convenience init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32? = nil,
                            encryption: EncryptionKey? = nil, memory: UploadMemory = .shared) throws(PayloadError) {
        let source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .localIO(operation: "open", path: sourcePath, detail: Self.lastError()) }
        do throws(PayloadError) {
            guard !Self.bodyIsTheFile(algorithm: algorithm, encryption: encryption) else {
                let original = try Self.encode(source: source, path: sourcePath, encoder: nil)
                self.init(body: SourceFileBody(descriptor: source, length: original.size), bodySource: .sourceFile,
                          bodySHA256Hex: original.sha256Hex,
                          metadata: PayloadMetadata(algorithm: algorithm, originalSHA256Hex: original.sha256Hex,
                                                    originalSize: original.size))
                return
            }
            let encoder = try Encoder(sourcePath: sourcePath, algorithm: algorithm, level: level, encryption: encryption,
                                      memory: memory)
            let original = try Self.encode(source: source, path: sourcePath, encoder: encoder)
            self.init(encoded: encoder, source: source, original: original)
        } catch {
            close(source)
            throw error
        }
    }

    /// The upload of what `encoder` was fed (all of `source`, whose checksum is `original`);
    /// takes `source`, which a body that did not fit in memory reads again while it is sent.
    convenience init(encoded encoder: Encoder, source: Int32, original: Checksum) {
        encoder.collected.finish()
        let collected = encoder.collected
        let metadata = PayloadMetadata(algorithm: encoder.algorithm, originalSHA256Hex: original.sha256Hex,
                                       originalSize: original.size, encryptionKeyID: encoder.encryption?.id)
        if collected.overflowed {
            let encryption = encoder.encryption.flatMap { key in encoder.encryptor.map { (key, $0.salt) } }
            self.init(body: RecompressingUploadBody(source: source, sourcePath: encoder.sourcePath, algorithm: encoder.algorithm,
                                                    level: encoder.level, encryption: encryption,
                                                    length: collected.length, sha256Hex: collected.sha256Hex),
                      bodySource: .recompressed, bodySHA256Hex: collected.sha256Hex, metadata: metadata)
        } else {
            close(source)
            self.init(body: collected, bodySource: .memory, bodySHA256Hex: collected.sha256Hex, metadata: metadata)
        }
    }

    private init(body: any UploadBody, bodySource: BodySource, bodySHA256Hex: String, metadata: PayloadMetadata) {
        self.body = body
        self.bodySource = bodySource
        self.bodySHA256Hex = bodySHA256Hex
        self.metadata = metadata
    }

    /// Whether the body of such an upload is the source file itself (neither compressed nor
    /// encrypted): then reading and hashing the file is the whole preparation.
    static func bodyIsTheFile(algorithm: CompressionAlgorithm, encryption: EncryptionKey?) -> Bool {
        algorithm == .none && encryption == nil
    }

    /// A file's SHA-256 (lower-case hex) and size.
    public struct Checksum: Sendable, Equatable {
        public var sha256Hex: String
        public var size: Int64
    }

    /// What the bytes of a compressed (or encrypted) upload go through after they are read: the
    /// compressor, the encryptor if any, and the memory that keeps the result. Fed the source's
    /// chunks in order, exactly as `encode` reads them (`RecompressingUploadBody` repeats it).
    final class Encoder {
        let sourcePath: String
        let algorithm: CompressionAlgorithm
        let level: Int32?
        let encryption: EncryptionKey?
        let encryptor: ChunkEncryptor?
        let collected: CompressedMemoryBody
        private let compressor: StreamCompressor
        private let stage: EncryptionStage

        init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32?, encryption: EncryptionKey?,
             memory: UploadMemory) throws(PayloadError) {
            self.sourcePath = sourcePath
            self.algorithm = algorithm
            self.level = level
            self.encryption = encryption
            do { compressor = try StreamCompressor(algorithm: algorithm, level: level) } catch {
                throw .compression(error, path: sourcePath)
            }
            var encryptor: ChunkEncryptor?
            if let encryption {
                do { encryptor = try ChunkEncryptor(key: encryption) } catch {
                    throw .localIO(operation: "encrypt", path: sourcePath, detail: error.message)
                }
            }
            self.encryptor = encryptor
            collected = CompressedMemoryBody(memory: memory)
            stage = EncryptionStage(encryptor: encryptor, output: collected.append)
        }

        /// One chunk of the source; `isLast` (a chunk shorter than `readChunkSize`) ends the stream.
        func feed(_ bytes: UnsafeRawBufferPointer, isLast: Bool) throws(PayloadError) {
            let stage = self.stage
            let encrypt = { (bytes: UnsafeRawBufferPointer) throws(EncryptionError) in try stage.push(bytes) }
            do throws(CodecFailure<EncryptionError>) {
                if !bytes.isEmpty { try compressor.push(bytes, output: encrypt) }
                if isLast { try compressor.finish(output: encrypt) }
            } catch {
                switch error {
                case .codec(let codecError): throw .compression(codecError, path: sourcePath)
                case .output(let encryptionError): throw .localIO(operation: "encrypt", path: sourcePath, detail: encryptionError.message)
                }
            }
            if isLast {
                do { try stage.finish() } catch {
                    throw .localIO(operation: "encrypt", path: sourcePath, detail: error.message)
                }
            }
        }
    }

    /// Reads the source to its end in chunks of exactly `readChunkSize` (a short one only at
    /// the end: `RecompressingUploadBody` repeats this very sequence of calls), hashing it and
    /// feeding the encoder (if any).
    private static func encode(source: Int32, path: String, encoder: Encoder?) throws(PayloadError) -> Checksum {
        var hasher = SHA256Hasher()
        var size: Int64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunkSize, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count = try readChunk(source, into: chunk, at: size, path: path)
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<count])
            hasher.update(bytes)
            size += Int64(count)
            try encoder?.feed(bytes, isLast: count < chunk.count)
            if count < chunk.count { break }
        }
        return Checksum(sha256Hex: hasher.finalize().hexString, size: size)
    }

    /// Fills `chunk` from `offset` on, short only at the end of the file.
    static func readChunk(_ source: Int32, into chunk: UnsafeMutableRawBufferPointer, at offset: Int64,
                          path: String) throws(PayloadError) -> Int {
        do {
            return try FileOperations.readFully(source, into: chunk, at: offset, path: path)
        } catch {
            throw .localIO(operation: "read", path: path, detail: String(cString: strerror(error.code)))
        }
    }

    /// The request that stores this body; `ifAbsent` by default, since an archived name is
    /// never overwritten.
    public func putRequest(key: String, ifAbsent: Bool = true, storageClass: String? = nil) -> PutRequest {
        PutRequest(key: key, body: body, sha256Hex: bodySHA256Hex, metadata: metadata.dictionary, ifAbsent: ifAbsent,
                   storageClass: storageClass)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// What follows the compressor: the encryptor when there is one, else the output itself.
struct EncryptionStage {
    let encryptor: ChunkEncryptor?
    let output: (UnsafeRawBufferPointer) -> Void

    func push(_ bytes: UnsafeRawBufferPointer) throws(EncryptionError) {
        guard let encryptor else { return output(bytes) }
        do { try encryptor.push(bytes, output: output) } catch {
            switch error {
            case .cipher(let failure): throw failure
            }
        }
    }

    func finish() throws(EncryptionError) {
        do { try encryptor?.finish(output: output) } catch {
            switch error {
            case .cipher(let failure): throw failure
            }
        }
    }
}

/// The source file as the body of an uncompressed upload; owns (closes) the descriptor.
private final class SourceFileBody: UploadBody {
    private let file: FileUploadBody
    var length: Int64 { file.length }

    init(descriptor: Int32, length: Int64) {
        file = FileUploadBody(descriptor: descriptor, length: length)
    }

    deinit { close(file.descriptor) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int {
        try file.read(into: buffer, at: offset)
    }
}
