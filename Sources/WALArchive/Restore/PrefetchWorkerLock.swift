import Glibc

/// The flock that makes the prefetch worker unique per `pg_wal`.
final class PrefetchWorkerLock {
    let descriptor: Int32

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
        let line = Array((first + " " + last + "\n").utf8)
        guard ftruncate(descriptor, 0) == 0 else { return }
        _ = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
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
