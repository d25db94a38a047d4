import Glibc

/// Writes bytes to a file and computes their SHA-256 on a thread of its own, while the caller
/// goes on producing them (decompressing a download): on two cores the hash and the copy into
/// the page cache no longer add to the wall time of a fetch. `write` copies the bytes into one
/// of a few fixed buffers of a `ChunkHandoff`, waiting only when every buffer is still queued,
/// so memory stays bounded; `finish` waits for the thread and returns the digest, or the first
/// write failure. A buffer is handed over only once full (or at the end): each hand-over wakes
/// the thread, and a woken thread tends to be run on the waker's core, taking it from the
/// decompression — a 16 MiB segment is 32 hand-overs instead of one per decompressed piece
/// (128 KiB): 25 context switches per fetch instead of about 400.
/// The bytes are written and hashed in the order given, exactly once each; when no thread can
/// be started, both happen on the caller's thread. Dropping the writer waits for its thread,
/// which first writes what is queued: nothing is written to the descriptor afterwards.
final class BackgroundFileWriter {
    static let slotSize = 512 * 1024
    static let slotCount = 4

    let path: String
    private let output: HashedFileOutput
    private let handoff: ChunkHandoff
    private let thread = ThreadGroup()
    private let threaded: Bool
    /// The buffer being filled (not handed over yet), and how many bytes it holds.
    private var filling: (index: Int, memory: UnsafeMutableRawBufferPointer)?
    private var filled = 0
    private var joined = false

    /// Writes at `descriptor`'s current offset; `path` names the file in failures.
    init(descriptor: Int32, path: String) {
        self.path = path
        let output = HashedFileOutput(descriptor: descriptor, path: path)
        let handoff = ChunkHandoff(chunkSize: Self.slotSize, capacity: Self.slotCount)
        self.output = output
        self.handoff = handoff
        // The thread holds the output and the handoff, never this object, so dropping this
        // object ends it.
        threaded = thread.start(0) { _ in output.drain(handoff) }
    }

    deinit { endAndJoin() }

    /// Queues `bytes` (they may be reused as soon as this returns); throws the failure of an
    /// earlier write, after which nothing more is written.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FileOperations.Failure) {
        guard threaded else { return try output.writeNow(bytes) }
        var offset = 0
        while offset < bytes.count {
            let buffer: (index: Int, memory: UnsafeMutableRawBufferPointer)
            if let filling {
                buffer = filling
            } else {
                // nil: the writing thread failed and abandoned the handoff.
                guard let empty = handoff.emptyBuffer() else { throw output.failureAfterAbandon() }
                buffer = empty
                filling = empty
                filled = 0
            }
            // The buffer is not handed over yet: only this thread touches it.
            let count = min(buffer.memory.count - filled, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: buffer.memory[filled..<(filled + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            filled += count
            offset += count
            if filled == buffer.memory.count {
                handoff.publish(buffer.index, count: filled)
                filling = nil
            }
        }
    }

    /// Waits until everything queued is written; the SHA-256 of every byte given to `write`,
    /// or the first failure. Call once.
    func finish() throws(FileOperations.Failure) -> [UInt8] {
        endAndJoin()
        return try output.digest()
    }

    /// Hands over the last bytes with the end of the stream — a buffer holding fewer bytes
    /// than a full one, an empty one if the last was full — and waits for the thread.
    private func endAndJoin() {
        guard threaded, !joined else { return }
        if let last = filling ?? handoff.emptyBuffer() {
            handoff.publish(last.index, count: filling == nil ? 0 : filled)
            filling = nil
        }
        thread.join()
        joined = true
    }
}

/// The writing side: the file, the running SHA-256 and the first failure. The writing thread
/// alone uses it until it ends; the caller's thread reads the failure after the handoff was
/// abandoned (the abandon, under the handoff's lock, follows the failure) or after the join.
private final class HashedFileOutput: @unchecked Sendable {
    let descriptor: Int32
    let path: String
    private var failure: FileOperations.Failure?
    private var hasher: SHA256Hasher? = SHA256Hasher()

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// The writing thread: each chunk in order, until the one shorter than a full buffer that
    /// ends the stream; after a failed write it writes nothing more and abandons the handoff.
    func drain(_ handoff: ChunkHandoff) {
        while let chunk = handoff.nextChunk() {
            hasher?.update(chunk.bytes)
            do { try FileOperations.writeAll(descriptor, chunk.bytes, path: path) } catch {
                failure = error
                handoff.abandon()
                return
            }
            handoff.recycle(chunk.index)
            if chunk.bytes.count < handoff.chunkSize { return }
        }
    }

    /// Without a thread: write and hash right away.
    func writeNow(_ bytes: UnsafeRawBufferPointer) throws(FileOperations.Failure) {
        if let failure { throw failure }
        hasher?.update(bytes)
        do { try FileOperations.writeAll(descriptor, bytes, path: path) } catch {
            failure = error
            throw error
        }
    }

    func failureAfterAbandon() -> FileOperations.Failure {
        failure ?? FileOperations.Failure(operation: "write", path: path, code: EIO)
    }

    /// After the writing thread ended (or without one).
    func digest() throws(FileOperations.Failure) -> [UInt8] {
        if let failure { throw failure }
        guard let hasher = hasher.take() else {
            throw FileOperations.Failure(operation: "finish writing", path: path, code: EINVAL)
        }
        return hasher.finalize()
    }
}
