import Glibc

/// Chunks of a stream handed from one thread (which fills them) to another (which consumes
/// them, in order), through a fixed number of buffers allocated on first use: the filling
/// thread waits only while every buffer is full, the consuming one only while none is. Either
/// side may `abandon` the handoff; every wait then ends at once.
final class ChunkHandoff: @unchecked Sendable {
    let chunkSize: Int
    private let capacity: Int
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var free: [Int] = []
    private var filled: [(index: Int, count: Int)] = []
    private var nextFilled = 0
    private var abandoned = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>

    init(chunkSize: Int, capacity: Int) {
        self.chunkSize = chunkSize
        self.capacity = max(1, capacity)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        changed = .allocate(capacity: 1)
        pthread_cond_init(changed, nil)
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
        pthread_cond_destroy(changed)
        changed.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// An empty buffer to fill (its index and memory), or nil once abandoned.
    func emptyBuffer() -> (index: Int, memory: UnsafeMutableRawBufferPointer)? {
        waiting { () -> (index: Int, memory: UnsafeMutableRawBufferPointer)?? in
            if abandoned { return .some(nil) }
            if let index = free.popLast() { return (index, buffers[index]) }
            guard buffers.count < capacity else { return nil }
            buffers.append(.allocate(byteCount: chunkSize, alignment: 16))
            return (buffers.count - 1, buffers[buffers.count - 1])
        }
    }

    /// Hands the first `count` bytes of a filled buffer to the consumer.
    func publish(_ index: Int, count: Int) {
        locked {
            filled.append((index, count))
            pthread_cond_broadcast(changed)
        }
    }

    /// The next filled chunk, in the order published, or nil once abandoned. Its buffer stays
    /// the consumer's until `recycle`.
    func nextChunk() -> (index: Int, bytes: UnsafeRawBufferPointer)? {
        waiting { () -> (index: Int, bytes: UnsafeRawBufferPointer)?? in
            if abandoned { return .some(nil) }
            guard nextFilled < filled.count else { return nil }
            let chunk = filled[nextFilled]
            nextFilled += 1
            return (chunk.index, UnsafeRawBufferPointer(rebasing: buffers[chunk.index][..<chunk.count]))
        }
    }

    /// Gives a consumed buffer back to the filling side.
    func recycle(_ index: Int) {
        locked {
            free.append(index)
            pthread_cond_broadcast(changed)
        }
    }

    /// Ends the handoff for both sides (an error, or nothing more wanted).
    func abandon() {
        locked {
            abandoned = true
            pthread_cond_broadcast(changed)
        }
    }

    private func locked(_ body: () -> Void) {
        pthread_mutex_lock(mutex)
        body()
        pthread_mutex_unlock(mutex)
    }

    /// Runs `attempt` under the mutex until it returns a value (an outer nil: wait for a change).
    private func waiting<Value>(_ attempt: () -> Value??) -> Value? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = attempt() { return result }
            pthread_cond_wait(changed, mutex)
        }
    }
}
