/// A `PreparedUpload` made on a thread of its own while the caller does what needs only the
/// file's SHA-256 (`wal-push` stores the name claim meanwhile): compression, most of a push's
/// work, then runs during the claim's round trips instead of before them.
///
/// The thread reads the file itself; `upload(matching:path:)` returns its body only when that
/// read hashed to the checksum the caller used, so a body never differs from what its claim
/// says. The thread never outlives this object (`deinit` joins it), and it touches no store.
final class UploadPreparation: @unchecked Sendable {
    private let threads = ThreadGroup()
    private let result = Outcome()
    /// Whether the upload is being made on a thread of its own.
    private(set) var isConcurrent = false

    /// Starts preparing on a new thread; on this one when `concurrently` is false, or when no
    /// thread can be created.
    init(sourcePath: String, algorithm: CompressionAlgorithm, level: Int32?, encryption: EncryptionKey?,
         concurrently: Bool) {
        let prepare = { @Sendable () -> Result<PreparedUpload, PayloadError> in
            do throws(PayloadError) {
                return .success(try PreparedUpload(sourcePath: sourcePath, algorithm: algorithm, level: level,
                                                   encryption: encryption))
            } catch {
                return .failure(error)
            }
        }
        if concurrently {
            // The thread holds the box, not this object, which may be released first (its
            // deinit then waits for the thread).
            let result = self.result
            isConcurrent = threads.start(0) { _ in result.value = prepare() }
        }
        if !isConcurrent { result.value = prepare() }
    }

    deinit { threads.join() }

    /// Waits for the thread; the upload, or why it could not be made.
    func upload() throws(PayloadError) -> PreparedUpload {
        threads.join()
        guard let outcome = result.value else { preconditionFailure("a joined preparation has an outcome") }
        return try outcome.get()
    }

    /// `upload()`, refused unless its read of `path` gave `checksum` (the file's SHA-256 and
    /// size from another read). They differ only if the file changed between the two reads,
    /// which PostgreSQL never does to a file it asked to archive.
    func upload(matching checksum: PreparedUpload.Checksum, path: String) throws(PayloadError) -> PreparedUpload {
        let upload = try upload()
        guard upload.originalSHA256Hex == checksum.sha256Hex, upload.originalSize == checksum.size else {
            throw .localIO(operation: "read", path: path,
                           detail: "it changed while it was read (two reads gave different SHA-256 or sizes)")
        }
        return upload
    }
}

/// Where the thread leaves its result: written by the thread before it ends, read only after
/// `join`, which orders the two.
private final class Outcome: @unchecked Sendable {
    var value: Result<PreparedUpload, PayloadError>?
}
