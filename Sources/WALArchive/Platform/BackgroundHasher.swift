import Glibc

/// SHA-256 computed on a thread of its own while the caller goes on producing bytes
/// (decompressing, writing them to a file): on two cores the hash no longer adds to the
/// wall time of a fetch. `update` copies the bytes into one of a few fixed slots, waiting only
/// when every slot is still queued, so memory stays bounded; `finalize` waits for the thread
/// and returns the digest. The bytes are hashed in the order given, exactly once each, so the
/// digest is the one `SHA256Hasher` computes on the caller's thread; when no thread can be
/// started, that is what happens.
final class BackgroundHasher: @unchecked Sendable {
    static let slotSize = 256 * 1024
    static let slotCount = 8

    // Shared state, guarded by `mutex`: slots `consumed..<produced` (modulo slotCount) are
    // queued; the hashing thread owns `hasher` until it has been joined.
    private let storage: UnsafeMutableRawBufferPointer
    private var lengths = [Int](repeating: 0, count: BackgroundHasher.slotCount)
    private var produced = 0
    private var consumed = 0
    private var ended = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private var hasher: SHA256Hasher? = SHA256Hasher()
    private let thread = ThreadGroup()
    private var threaded = false
    private var joined = false

    init() {
        storage = .allocate(byteCount: Self.slotSize * Self.slotCount, alignment: 64)
        mutex = .allocate(capacity: 1)
        changed = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        let box = UnownedBox(self)
        threaded = thread.start(0) { _ in box.value.hashQueuedSlots() }
    }

    deinit {
        endAndJoin()
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
        storage.deallocate()
    }

    /// Queues `bytes` for hashing; they may be reused as soon as this returns.
    func update(_ bytes: UnsafeRawBufferPointer) {
        guard threaded else {
            hasher?.update(bytes)
            return
        }
        var offset = 0
        while offset < bytes.count {
            let count = min(Self.slotSize, bytes.count - offset)
            pthread_mutex_lock(mutex)
            while produced - consumed == Self.slotCount { pthread_cond_wait(changed, mutex) }
            let slot = produced % Self.slotCount
            pthread_mutex_unlock(mutex)
            // The slot is free and only this thread fills slots: no lock needed to copy.
            let target = UnsafeMutableRawBufferPointer(rebasing: storage[(slot * Self.slotSize)...])
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            pthread_mutex_lock(mutex)
            lengths[slot] = count
            produced += 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
            offset += count
        }
    }

    /// The digest of every byte given to `update`; nil when called a second time.
    func finalize() -> [UInt8]? {
        endAndJoin()
        return hasher.take()?.finalize()
    }

    private func endAndJoin() {
        guard threaded, !joined else { return }
        pthread_mutex_lock(mutex)
        ended = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        thread.join()
        joined = true
    }

    /// The hashing thread: each queued slot in order, until `endAndJoin` and nothing is queued.
    private func hashQueuedSlots() {
        while true {
            pthread_mutex_lock(mutex)
            while produced == consumed && !ended { pthread_cond_wait(changed, mutex) }
            if produced == consumed {
                pthread_mutex_unlock(mutex)
                return
            }
            let slot = consumed % Self.slotCount
            let count = lengths[slot]
            pthread_mutex_unlock(mutex)
            hasher?.update(UnsafeRawBufferPointer(rebasing: storage[(slot * Self.slotSize)..<(slot * Self.slotSize + count)]))
            pthread_mutex_lock(mutex)
            consumed += 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
    }
}

/// The hasher as seen by its own thread: `deinit` joins the thread before anything is freed,
/// so the reference never outlives the object.
private struct UnownedBox: @unchecked Sendable {
    unowned(unsafe) let value: BackgroundHasher

    init(_ value: BackgroundHasher) {
        self.value = value
    }
}
