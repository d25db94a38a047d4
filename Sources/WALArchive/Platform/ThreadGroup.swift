import Glibc

/// A few POSIX threads started together and joined together (no Dispatch, no Foundation).
/// Each thread must use its own store: stores are not thread-safe.
final class ThreadGroup {
    private var threads: [pthread_t] = []

    /// Starts `body(index)` on a new thread; false if the thread could not be created.
    @discardableResult
    func start(_ index: Int, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
        let task = ThreadTask(index: index, body: body)
        let context = Unmanaged.passRetained(task).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let task = Unmanaged<ThreadTask>.fromOpaque(context!).takeRetainedValue()
            task.body(task.index)
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ThreadTask>.fromOpaque(context).release()
            return false
        }
        threads.append(thread)
        return true
    }

    /// Waits for every started thread.
    func join() {
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }
}

private final class ThreadTask: Sendable {
    let index: Int
    let body: @Sendable (Int) -> Void

    init(index: Int, body: @escaping @Sendable (Int) -> Void) {
        self.index = index
        self.body = body
    }
}

/// A list handed out one item at a time to several threads.
final class SharedQueue<Item: Sendable>: @unchecked Sendable {
    private let items: [Item]
    private var next = 0
    private var stopped = false
    private let lock = Lock()

    init(_ items: [Item]) {
        self.items = items
    }

    /// The next item, or nil when all were taken or `stop` was called.
    func take() -> Item? {
        lock.withLock {
            guard !stopped, next < items.count else { return nil }
            next += 1
            return items[next - 1]
        }
    }

    func stop() {
        lock.withLock { stopped = true }
    }
}

/// Hands a non-Sendable value to exactly one other thread, which becomes its only user.
struct HandedOver<Value>: @unchecked Sendable {
    let value: Value
}
