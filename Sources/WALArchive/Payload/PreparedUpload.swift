import Glibc

/// A file made ready for `ObjectStore.put` in one read of the source: the original is hashed,
/// compressed, the compressed body hashed and written to an anonymous temporary file (gone
/// by itself when the process ends, however it ends). For `none` the source itself is the body.
/// Memory stays bounded (one read chunk plus the codec's buffers) whatever the file's size.
public final class PreparedUpload {
    static let readChunkSize = 256 * 1024

    /// The body, positioned at offset 0; owned (closed on deinit).
    public let fileDescriptor: Int32
    public let bodyLength: Int64
    /// Lower-case hex SHA-256 of exactly the body's bytes (what S3 verifies on arrival).
    public let bodySHA256Hex: String
    public let metadata: PayloadMetadata

    public var algorithm: CompressionAlgorithm { metadata.algorithm }
    public var originalSHA256Hex: String { metadata.originalSHA256Hex ?? "" }
    public var originalSize: Int64 { metadata.originalSize ?? 0 }

    /// Reads `sourcePath` once. The compressed body goes to an anonymous file in
    /// `temporaryDirectory` (O_TMPFILE, or a created-and-unlinked file where the file system
    /// lacks it); nothing is written for `none`.
    public init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32? = nil,
                temporaryDirectory: String) throws(PayloadError) {
        let source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .localIO(operation: "open", path: sourcePath, detail: Self.lastError()) }
        var body: Int32 = -1
        do throws(PayloadError) {
            var compressor: StreamCompressor?
            if algorithm != .none {
                do { compressor = try StreamCompressor(algorithm: algorithm, level: level) } catch {
                    throw .compression(error, path: sourcePath)
                }
                do { body = try AnonymousFile.create(in: temporaryDirectory) } catch {
                    throw .localIO(operation: "create a temporary file in", path: temporaryDirectory, detail: String(cString: strerror(error.code)))
                }
            }
            let writer = BodyWriter(descriptor: body, path: temporaryDirectory)
            let original = try Self.encode(source: source, path: sourcePath, compressor: compressor, writer: writer)
            if compressor != nil {
                close(source)
                fileDescriptor = body
                bodyLength = writer.length
                bodySHA256Hex = writer.finalizeHex()
            } else {
                fileDescriptor = source
                bodyLength = original.size
                bodySHA256Hex = original.sha256Hex
            }
            metadata = PayloadMetadata(algorithm: algorithm, originalSHA256Hex: original.sha256Hex,
                                       originalSize: original.size)
        } catch {
            close(source)
            if body >= 0 { close(body) }
            throw error
        }
        guard lseek(fileDescriptor, 0, SEEK_SET) == 0 else {
            let detail = Self.lastError()
            close(fileDescriptor)
            throw .localIO(operation: "rewind", path: sourcePath, detail: detail)
        }
    }

    /// Reads the source to its end, hashing it and feeding the compressor (if any).
    private static func encode(source: Int32, path: String, compressor: StreamCompressor?, writer: BodyWriter)
        throws(PayloadError) -> (sha256Hex: String, size: Int64) {
        var hasher = SHA256Hasher()
        var size: Int64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunkSize, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count: Int
            do {
                count = try FileOperations.readSome(source, into: chunk, path: path)
            } catch {
                throw .localIO(operation: "read", path: path, detail: String(cString: strerror(error.code)))
            }
            if count == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<count])
            hasher.update(bytes)
            size += Int64(count)
            if let compressor {
                do { try compressor.push(bytes, output: writer.write) } catch { throw failure(error, path) }
            }
        }
        if let compressor {
            do { try compressor.finish(output: writer.write) } catch { throw failure(error, path) }
        }
        return (hasher.finalize().hexString, size)
    }

    deinit { close(fileDescriptor) }

    /// The request that stores this body; `ifAbsent` by default, since an archived name is
    /// never overwritten.
    public func putRequest(key: String, ifAbsent: Bool = true, storageClass: String? = nil) -> PutRequest {
        PutRequest(key: key, fileDescriptor: fileDescriptor, length: bodyLength, sha256Hex: bodySHA256Hex,
                   metadata: metadata.dictionary, ifAbsent: ifAbsent, storageClass: storageClass)
    }

    private static func failure(_ error: CodecFailure<FileOperations.Failure>, _ path: String) -> PayloadError {
        switch error {
        case .codec(let codecError): return .compression(codecError, path: path)
        case .output(let ioError):
            return .localIO(operation: "write the compressed copy of", path: path, detail: ioError.message)
        }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// Hashes, counts and writes the compressed body.
private final class BodyWriter {
    let descriptor: Int32
    let path: String
    private(set) var length: Int64 = 0
    private var hasher: SHA256Hasher? = SHA256Hasher()

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FileOperations.Failure) {
        hasher?.update(bytes)
        length += Int64(bytes.count)
        try FileOperations.writeAll(descriptor, bytes, path: path + "/(temporary file)")
    }

    func finalizeHex() -> String {
        hasher.take()?.finalize().hexString ?? ""
    }
}
