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
    public init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32? = nil,
                encryption: EncryptionKey? = nil, memory: UploadMemory = .shared) throws(PayloadError) {
        let source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .localIO(operation: "open", path: sourcePath, detail: Self.lastError()) }
        do throws(PayloadError) {
            guard algorithm != .none || encryption != nil else {
                let original = try Self.encode(source: source, path: sourcePath, compressor: nil, encryptor: nil) { _ in }
                body = SourceFileBody(descriptor: source, length: original.size)
                bodySource = .sourceFile
                bodySHA256Hex = original.sha256Hex
                metadata = PayloadMetadata(algorithm: algorithm, originalSHA256Hex: original.sha256Hex, originalSize: original.size)
                return
            }
            let compressor: StreamCompressor
            do { compressor = try StreamCompressor(algorithm: algorithm, level: level) } catch {
                throw .compression(error, path: sourcePath)
            }
            var encryptor: ChunkEncryptor?
            if let encryption {
                do { encryptor = try ChunkEncryptor(key: encryption) } catch {
                    throw .localIO(operation: "encrypt", path: sourcePath, detail: error.message)
                }
            }
            let collected = CompressedMemoryBody(memory: memory)
            let original = try Self.encode(source: source, path: sourcePath, compressor: compressor, encryptor: encryptor,
                                           output: collected.append)
            collected.finish()
            metadata = PayloadMetadata(algorithm: algorithm, originalSHA256Hex: original.sha256Hex, originalSize: original.size,
                                       encryptionKeyID: encryption?.id)
            bodySHA256Hex = collected.sha256Hex
            if collected.overflowed {
                body = RecompressingUploadBody(source: source, sourcePath: sourcePath, algorithm: algorithm, level: level,
                                               encryption: encryption.flatMap { key in encryptor.map { (key, $0.salt) } },
                                               length: collected.length, sha256Hex: collected.sha256Hex)
                bodySource = .recompressed
            } else {
                close(source)
                body = collected
                bodySource = .memory
            }
        } catch {
            close(source)
            throw error
        }
    }

    /// A file's SHA-256 (lower-case hex) and size.
    public struct Checksum: Sendable, Equatable {
        public var sha256Hex: String
        public var size: Int64
    }

    /// The SHA-256 and size of `sourcePath`, from one read of it and nothing else.
    static func checksum(sourcePath: String) throws(PayloadError) -> Checksum {
        let source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .localIO(operation: "open", path: sourcePath, detail: Self.lastError()) }
        defer { close(source) }
        let original = try encode(source: source, path: sourcePath, compressor: nil, encryptor: nil) { _ in }
        return Checksum(sha256Hex: original.sha256Hex, size: original.size)
    }

    /// Reads the source to its end in chunks of exactly `readChunkSize` (a short one only at
    /// the end: `RecompressingUploadBody` repeats this very sequence of calls), hashing it and
    /// feeding the compressor (if any), whose output goes through the encryptor (if any).
    private static func encode(source: Int32, path: String, compressor: StreamCompressor?, encryptor: ChunkEncryptor?,
                               output: @escaping (UnsafeRawBufferPointer) -> Void) throws(PayloadError) -> (sha256Hex: String, size: Int64) {
        var hasher = SHA256Hasher()
        var size: Int64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunkSize, alignment: 16)
        defer { chunk.deallocate() }
        let stage = EncryptionStage(encryptor: encryptor, output: output)
        while true {
            let count: Int
            do {
                count = try FileOperations.readFully(source, into: chunk, at: size, path: path)
            } catch {
                throw .localIO(operation: "read", path: path, detail: String(cString: strerror(error.code)))
            }
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<count])
            hasher.update(bytes)
            size += Int64(count)
            let encrypt = { (bytes: UnsafeRawBufferPointer) throws(EncryptionError) in try stage.push(bytes) }
            do throws(CodecFailure<EncryptionError>) {
                if count > 0 { try compressor?.push(bytes, output: encrypt) }
                if count < chunk.count { try compressor?.finish(output: encrypt) }
            } catch {
                switch error {
                case .codec(let codecError): throw .compression(codecError, path: path)
                case .output(let encryptionError): throw .localIO(operation: "encrypt", path: path, detail: encryptionError.message)
                }
            }
            if count < chunk.count {
                do { try stage.finish() } catch {
                    throw .localIO(operation: "encrypt", path: path, detail: error.message)
                }
                break
            }
        }
        return (hasher.finalize().hexString, size)
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
