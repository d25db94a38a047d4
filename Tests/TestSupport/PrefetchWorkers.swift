import Foundation
import Glibc

/// The detached prefetch workers of one `pg_wal`, found through the flock they hold on
/// `pg_wal/.wal-archive/prefetch.lock` (so a test touches only workers it caused).
public enum PrefetchWorkers {
    static func lockPath(_ walDirectory: String) -> String { walDirectory + "/.wal-archive/prefetch.lock" }

    /// Blocks until no worker holds the lock (returns at once when there is none or no lock file).
    public static func waitUntilIdle(walDirectory: String) {
        let descriptor = open(lockPath(walDirectory), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        flock(descriptor, LOCK_UN)
    }

    /// Runs `body` while holding the lock, so no worker of this `pg_wal` runs meanwhile.
    public static func whileIdle<Result>(walDirectory: String, _ body: () throws -> Result) rethrows -> Result {
        let descriptor = open(lockPath(walDirectory), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// The pid of the worker once one holds the lock, looking every millisecond for up to two
    /// seconds (a worker started by a fetch that just returned takes the lock at once).
    public static func waitForHolder(walDirectory: String) -> pid_t? {
        for _ in 0..<2_000 {
            if let pid = holder(walDirectory: walDirectory) { return pid }
            usleep(1_000)
        }
        return nil
    }

    /// The pid holding the lock right now, from /proc/locks (matched by the lock file's inode).
    public static func holder(walDirectory: String) -> pid_t? {
        var info = stat()
        guard lstat(lockPath(walDirectory), &info) == 0,
              let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        for line in locks.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (blocked waiters carry "->")
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", !line.contains("->"),
                  let inode = fields[5].split(separator: ":").last.flatMap({ UInt64($0) }), inode == UInt64(info.st_ino),
                  let pid = pid_t(fields[4]) else { continue }
            return pid
        }
        return nil
    }
}
