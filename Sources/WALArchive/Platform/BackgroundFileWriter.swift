import Glibc

/// Writes bytes to a file and computes their SHA-256 on a thread of its own, while the caller
/// goes on producing them (decompressing a download): on two cores the hash and the copy into
/// the page cache no longer add to the wall time of a fetch. `write` copies the bytes into one
/// of a few fixed slots, waiting only when every slot is still queued, so memory stays
/// bounded; `finish` waits for the thread and returns the digest, or the first write failure.
/// A slot is handed over only once full (or at the end): each hand-over wakes the thread, and
/// a woken thread tends to be run on the waker's core, taking it from the decompression —
/// a 16 MiB segment is 32 hand-overs instead of one per decompressed piece (128 KiB): 25
/// context switches per fetch instead of about 400.
/// The bytes are written and hashed in the order given, exactly once each; when no thread can
/// be started, both happen on the caller's thread. Dropping the writer waits for its thread,
/// which first writes what is queued: nothing is written to the descriptor afterwards.
final class BackgroundFileWriter {
    static let slotSize = 512 * 1024
    static let slotCount = 4

    let path: String
    private let queue: SlotQueue
    private let thread = ThreadGroup()
    private let threaded: Bool
    private var joined = false

    /// Writes at `descriptor`'s current offset; `path` names the file in failures.
    init(descriptor: Int32, path: String) {
        self.path = path
        let queue = SlotQueue(descriptor: descriptor, path: path)
        self.queue = queue
        // The thread holds the queue, never this object, so dropping this object ends it.
        threaded = thread.start(0) { _ in queue.drain() }
    }

    deinit { endAndJoin() }

    /// Queues `bytes` (they may be reused as soon as this returns); throws the failure of an
    /// earlier write, after which nothing more is written.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FileOperations.Failure) {
        if threaded {
            try queue.enqueue(bytes)
        } else {
            try queue.writeNow(bytes)
        }
    }

    /// Waits until everything queued is written; the SHA-256 of every byte given to `write`,
    /// or the first failure. Call once.
    func finish() throws(FileOperations.Failure) -> [UInt8] {
        endAndJoin()
        return try queue.digest()
    }

    private func endAndJoin() {
        guard threaded, !joined else { return }
        queue.end()
        thread.join()
        joined = true
    }
}

/// The slots and the state the caller's thread and the writing thread share, guarded by
/// `mutex`: slots `consumed..<produced` (modulo slotCount) are queued. The writing thread alone
/// uses `hasher` until it has been joined.
private final class SlotQueue: @unchecked Sendable {
    let descriptor: Int32
    let path: String
    private let slotSize = BackgroundFileWriter.slotSize
    private let slotCount = BackgroundFileWriter.slotCount
    private let storage: UnsafeMutableRawBufferPointer
    private var lengths: [Int]
    private var produced = 0
    /// The slot the caller's thread is filling (not yet queued), and how many bytes it holds.
    private var filling: Int?
    private var filled = 0
    private var consumed = 0
    private var ended = false
    private var failure: FileOperations.Failure?
    private var hasher: SHA256Hasher? = SHA256Hasher()
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
        storage = .allocate(byteCount: slotSize * slotCount, alignment: 64)
        lengths = [Int](repeating: 0, count: slotCount)
        mutex = .allocate(capacity: 1)
        changed = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
        storage.deallocate()
    }

    func enqueue(_ bytes: UnsafeRawBufferPointer) throws(FileOperations.Failure) {
        var offset = 0
        while offset < bytes.count {
            let slot: Int
            if let filling {
                slot = filling
            } else {
                pthread_mutex_lock(mutex)
                while produced - consumed == slotCount && failure == nil { pthread_cond_wait(changed, mutex) }
                if let failure {
                    pthread_mutex_unlock(mutex)
                    throw failure
                }
                slot = produced % slotCount
                pthread_mutex_unlock(mutex)
                filling = slot
                filled = 0
            }
            // The slot is not queued yet and only the caller's thread fills slots: no lock to copy.
            let count = min(slotSize - filled, bytes.count - offset)
            let target = UnsafeMutableRawBufferPointer(rebasing: storage[(slot * slotSize + filled)...])
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            filled += count
            offset += count
            if filled == slotSize { publishFilling() }
        }
    }

    /// Queues the slot being filled, if it holds anything.
    private func publishFilling() {
        guard let slot = filling else { return }
        filling = nil
        guard filled > 0 else { return }
        pthread_mutex_lock(mutex)
        lengths[slot] = filled
        produced += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
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

    func end() {
        publishFilling()
        pthread_mutex_lock(mutex)
        ended = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// After the writing thread was joined (or without one).
    func digest() throws(FileOperations.Failure) -> [UInt8] {
        if let failure { throw failure }
        guard let hasher = hasher.take() else {
            throw FileOperations.Failure(operation: "finish writing", path: path, code: EINVAL)
        }
        return hasher.finalize()
    }

    /// The writing thread: each queued slot in order, until `end` and nothing is queued;
    /// after a failure it writes nothing more and `enqueue` throws it.
    func drain() {
        while true {
            pthread_mutex_lock(mutex)
            while produced == consumed && !ended { pthread_cond_wait(changed, mutex) }
            if produced == consumed || failure != nil {
                pthread_mutex_unlock(mutex)
                return
            }
            let slot = consumed % slotCount
            let count = lengths[slot]
            pthread_mutex_unlock(mutex)
            let bytes = UnsafeRawBufferPointer(rebasing: storage[(slot * slotSize)..<(slot * slotSize + count)])
            hasher?.update(bytes)
            var written: FileOperations.Failure?
            do { try FileOperations.writeAll(descriptor, bytes, path: path) } catch { written = error }
            pthread_mutex_lock(mutex)
            failure = written
            consumed += 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
    }
}
