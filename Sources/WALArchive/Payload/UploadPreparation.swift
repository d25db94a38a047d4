import Glibc

/// A `PreparedUpload` whose compression runs on a thread of its own while the caller reads and
/// hashes the file (`checksum()`), so that the caller can store what needs only the SHA-256
/// (`wal-push`'s name claim) while the file is still being compressed: compression, most of a
/// push's work, then overlaps the claim's round trips instead of preceding them.
///
/// The file is read once, on the caller's thread, and each chunk is hashed there and handed to
/// the compressing thread (`ChunkHandoff`): the body is made of exactly the bytes the checksum
/// covers. At most `handoffChunks` chunks wait between the two threads, so memory stays bounded
/// (the compressed body itself lives in `UploadMemory`, as always). The thread never outlives
/// this object: `deinit` abandons the handoff and joins it. It touches no store.
final class UploadPreparation: @unchecked Sendable {
    /// Chunks read ahead of the compressor at most: 64 × 256 KiB = 16 MiB, so that the hash of a
    /// 16 MiB segment (and so its claim) never waits for the compressor. Measured on one 16 MiB
    /// segment: peak RSS 24.5 → 36 MiB (8 MiB: 32.6 MiB, and the claim starts only once half of
    /// the segment is compressed, about 8 ms later per push at +20 ms RTT).
    static let handoffChunks = 64

    private let sourcePath: String
    private let algorithm: CompressionAlgorithm
    private let level: Int32?
    private let encryption: EncryptionKey?
    private let memory: UploadMemory
    private let threads = ThreadGroup()
    private let handoff: ChunkHandoff?
    private let compressed = Outcome()
    private var source: Int32 = -1
    private var original: PreparedUpload.Checksum?
    private var sequential: PreparedUpload?

    /// With `concurrently`, starts the compressing thread (it waits for the chunks `checksum()`
    /// reads); otherwise, when there is nothing to compress or encrypt (the body is the file, its
    /// one hash the whole preparation), or when no thread can be created, `checksum()` prepares
    /// the whole upload on the caller's thread as `PreparedUpload` does.
    init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32?, encryption: EncryptionKey?,
         concurrently: Bool, memory: UploadMemory = .shared, handoffChunks: Int = UploadPreparation.handoffChunks) {
        self.sourcePath = sourcePath
        self.algorithm = algorithm
        self.level = level
        self.encryption = encryption
        self.memory = memory
        guard concurrently, !PreparedUpload.bodyIsTheFile(algorithm: algorithm, encryption: encryption) else {
            handoff = nil
            return
        }
        let handoff = ChunkHandoff(chunkSize: PreparedUpload.readChunkSize, capacity: handoffChunks)
        let compressed = self.compressed
        let started = threads.start(0) { _ in
            do throws(PayloadError) {
                let encoder = try PreparedUpload.Encoder(sourcePath: sourcePath, algorithm: algorithm, level: level,
                                                         encryption: encryption, memory: memory)
                while let chunk = handoff.nextChunk() {
                    let isLast = chunk.bytes.count < handoff.chunkSize
                    try encoder.feed(chunk.bytes, isLast: isLast)
                    handoff.recycle(chunk.index)
                    if isLast {
                        compressed.value = .success(encoder)
                        return
                    }
                }
                compressed.value = .failure(.localIO(operation: "read", path: sourcePath, detail: "reading stopped"))
            } catch {
                handoff.abandon()
                compressed.value = .failure(error)
            }
        }
        self.handoff = started ? handoff : nil
    }

    deinit {
        handoff?.abandon()
        threads.join()
        if source >= 0 { close(source) }
    }

    /// Whether compression runs on a thread of its own.
    var isConcurrent: Bool { handoff != nil }

    /// Reads the file to its end on this thread: its SHA-256 and size. Each chunk goes to the
    /// compressing thread as soon as it is hashed.
    func checksum() throws(PayloadError) -> PreparedUpload.Checksum {
        guard let handoff else {
            let upload = try preparedHere()
            return PreparedUpload.Checksum(sha256Hex: upload.originalSHA256Hex, size: upload.originalSize)
        }
        source = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            handoff.abandon()
            throw .localIO(operation: "open", path: sourcePath, detail: String(cString: strerror(errno)))
        }
        var hasher = SHA256Hasher()
        var size: Int64 = 0
        while true {
            guard let buffer = handoff.emptyBuffer() else {
                // The compressing thread gave up: its error is the one to report.
                _ = try encoded()
                throw .localIO(operation: "read", path: sourcePath, detail: "compression stopped")
            }
            let count: Int
            do {
                count = try PreparedUpload.readChunk(source, into: buffer.memory, at: size, path: sourcePath)
            } catch {
                handoff.abandon()
                throw error
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer.memory[..<count]))
            size += Int64(count)
            handoff.publish(buffer.index, count: count)
            if count < handoff.chunkSize { break }
        }
        let checksum = PreparedUpload.Checksum(sha256Hex: hasher.finalize().hexString, size: size)
        original = checksum
        return checksum
    }

    /// The upload of what `checksum()` read, once compressed (waits for the thread).
    func upload() throws(PayloadError) -> PreparedUpload {
        guard isConcurrent else { return try preparedHere() }
        let encoder = try encoded()
        guard let original else { preconditionFailure("upload() before checksum()") }
        let upload = PreparedUpload(encoded: encoder, source: source, original: original)
        source = -1
        return upload
    }

    /// The whole upload made on this thread in one read (`PreparedUpload`), once.
    private func preparedHere() throws(PayloadError) -> PreparedUpload {
        if let sequential { return sequential }
        let upload = try PreparedUpload(sourcePath: sourcePath, algorithm: algorithm, level: level, encryption: encryption,
                                        memory: memory)
        sequential = upload
        return upload
    }

    private func encoded() throws(PayloadError) -> PreparedUpload.Encoder {
        threads.join()
        guard let outcome = compressed.value else { preconditionFailure("a joined preparation has an outcome") }
        return try outcome.get()
    }
}

/// Where the compressing thread leaves its result: written by the thread before it ends, read
/// only after `join`, which orders the two.
private final class Outcome: @unchecked Sendable {
    var value: Result<PreparedUpload.Encoder, PayloadError>?
}
