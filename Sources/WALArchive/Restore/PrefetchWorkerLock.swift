import Glibc

/// The flock that makes the prefetch worker unique per `pg_wal`.
///
/// Its file also holds the holder's window, "<first> <last>", so that a call can tell whether to
/// wait for the worker (PrefetchSession) rather than download the same segment. The worker's
/// download threads narrow it where they give up, from any of them.
final class PrefetchWorkerLock: @unchecked Sendable {
    let descriptor: Int32
    private let announcing = Lock()
    private var announced: (first: String, last: String)?

    /// Nil when the state directory cannot be trusted (see WALDirectory.trustedStateDirectory):
    /// then there is no prefetch.
    init?(walDirectory: WALDirectory) {
        guard let stateDirectory = walDirectory.trustedStateDirectory(create: true) else { return nil }
        descriptor = open(stateDirectory + "/prefetch.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    func acquire() -> Bool {
        flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }

    /// Blocks until the lock is free: a worker started while another finishes runs after it
    /// (and finds most files already there).
    func acquireWaiting() -> Bool {
        while flock(descriptor, LOCK_EX) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    func release() {
        flock(descriptor, LOCK_UN)
    }

    /// The holder writes the segments it fetches, so a call can tell whether to wait for it.
    func announce(first: String, last: String) {
        announcing.withLock {
            announced = nil
            guard ftruncate(descriptor, 0) == 0 else { return }
            write(first: first, last: last)
        }
    }

    /// The holder will not deliver the announced segments after `last` (nil: none of them): it
    /// gave up at the next one (not in the archive, or a failure), while its other downloads go
    /// on. A call waiting for one of those then stops waiting at once and fetches it itself,
    /// instead of waiting for the whole batch to end: at the end of the archive, PostgreSQL's
    /// request for the segment after the last one. Only ever narrows. Safe whatever a reader
    /// sees: the window only decides whether a call waits, never what it answers (a call that
    /// stops waiting asks the archive, and one that waits longer asks it when the lock is free).
    func narrow(toLast last: String?) {
        announcing.withLock {
            guard let window = announced, last.map({ $0 < window.last }) ?? true else { return }
            guard let last, last >= window.first else {
                announced = nil
                _ = ftruncate(descriptor, 0)
                return
            }
            // Names of one timeline have one length: the line is rewritten in place, never
            // seen empty by a reader.
            write(first: window.first, last: last)
        }
    }

    /// Writes the window's line at the start of the file and remembers it as announced, if
    /// written whole. Called holding `announcing`.
    private func write(first: String, last: String) {
        let line = Array((first + " " + last + "\n").utf8)
        guard line.withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, $0.count, 0) }) == line.count else { return }
        announced = (first, last)
    }

    func announcedWindow() -> (first: String, last: String)? {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let line = buffer[..<count].split(separator: UInt8(ascii: "\n")).first ?? []
        let fields = line.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 2, fields[0].count == 24, fields[1].count == 24 else { return nil }
        return (fields[0], fields[1])
    }
}
