import Glibc

/// What changes whenever a file's content changes, read with one `stat`: file system
/// (device) and inode, size, and the modification and status-change times to the nanosecond.
///
/// Why equal identities prove equal content, so that a pushed-ahead file need not be read
/// again: every way to change a file's bytes through the file system (write, truncate,
/// fallocate, a write through a shared mapping, copy_file_range) sets both its modification
/// and its status-change time to the current time, and replacing it (rename over it, a new
/// file under the name) changes the inode. The modification time can be set back
/// (utimensat, `touch -d`, `cp -p`, tar), but doing so sets the status-change time to now,
/// and nothing but the clock sets that. What remains is the clock's granularity: the kernel
/// stamps files from a clock that may advance only once per tick (1–10 ms), so a change in
/// the same tick as the file's last one could leave both times as they were. Push-ahead
/// therefore takes a file's identity only once its status-change time is at least
/// `settleNanoseconds` old (`PushAhead`), and the prefetch worker records a file only then
/// (`PrefetchRecorder`); any change after that carries a later time. A clock stepped back
/// could hide a change; the file is then never recorded (its times are in the future), and it
/// is read as usual.
///
/// Used by push-ahead (`PushedRecord`: this file was stored) and by the prefetch
/// (`PrefetchRecord`: this file is the one the worker verified, in this boot).
struct FileIdentity: Sendable, Equatable {
    /// Longer than the coarsest kernel timestamp tick (HZ=100: 10 ms).
    static let settleNanoseconds: Int64 = 20_000_000

    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modificationNanoseconds: Int64
    var changeNanoseconds: Int64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(status: info)
    }

    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        self.init(status: info)
    }

    private init?(status info: stat) {
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modificationNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }

    /// The same file (file system, inode) with the same size and modification time: all that
    /// a rename of it keeps (a rename sets its status-change time).
    func isSameFile(renamedFrom earlier: FileIdentity) -> Bool {
        device == earlier.device && inode == earlier.inode && size == earlier.size
            && modificationNanoseconds == earlier.modificationNanoseconds
    }

    /// How long ago (by the real-time clock) the file last changed; negative when its time is
    /// ahead of the clock.
    var nanosecondsSinceChange: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - changeNanoseconds
    }

    /// True once the file's last change is at least `settleNanoseconds` old.
    var isSettled: Bool { nanosecondsSinceChange >= Self.settleNanoseconds }

    /// Waits until the file's last change, as this identity has it, is `settleNanoseconds`
    /// old (at most that long); false at once when its time is ahead of the clock (a clock
    /// stepped back): such a file is never vouched for. The caller reads the identity again
    /// after the wait: a change meanwhile must show.
    func waitUntilSettled() -> Bool {
        let age = nanosecondsSinceChange
        guard age >= 0 else { return false }
        guard age < Self.settleNanoseconds else { return true }
        MonotonicClock.sleep(nanoseconds: Self.settleNanoseconds - age)
        return true
    }

    /// Two lines: `size` and `modification-ns change-ns device inode`.
    var encoded: String { "\(size)\n\(modificationNanoseconds) \(changeNanoseconds) \(device) \(inode)" }

    init?(encoded: String) {
        let fields = encoded.split(whereSeparator: { $0 == "\n" || $0 == " " })
        guard fields.count == 5, let size = Int64(fields[0]), let modification = Int64(fields[1]),
              let change = Int64(fields[2]), let device = UInt64(fields[3]), let inode = UInt64(fields[4]) else { return nil }
        self.size = size
        modificationNanoseconds = modification
        changeNanoseconds = change
        self.device = device
        self.inode = inode
    }
}
