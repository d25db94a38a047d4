import Glibc

/// The one naming scheme of every temporary file the tools create, wherever it is (next to
/// `%p`, in the tools' state directories, in a `file://` archive):
/// `.wal-archive-tmp.<pid>.<machine><random>`, `<machine>` being 8 hex digits that stand for this
/// host and this boot. A SIGKILL cannot be caught, so the name says who wrote it: a later call
/// removes it (`removeAbandoned`) when the writer is gone. Whoever creates a temporary file
/// also removes the abandoned ones where it writes, so leftovers go with the next call that
/// writes there. The file being written to `%p`'s directory is also tracked, so a fetch
/// stopped by PostgreSQL (SIGTERM at shutdown, SIGINT, SIGQUIT, SIGHUP) removes it before it
/// dies.
public enum TemporaryFileCleanup {
    public static let prefix = ".wal-archive-tmp."

    /// A temporary file of another machine or an earlier boot (a `file://` archive shared over
    /// NFS, a data directory restored from a backup) is removed once it has not changed for
    /// this long: its pid means nothing here, and no writer leaves its file untouched this long
    /// (every attempt of a fetch rewrites it; a push writes it in one go).
    static let foreignAgeSeconds: Int64 = 3_600

    /// A fresh temporary name (no directory) carrying this process's pid and machine.
    public static func name() -> String {
        name(pid: getpid())
    }

    static func name(pid: pid_t) -> String {
        prefix + String(pid) + "." + machineTag + String(FileOperations.randomToken().prefix(8))
    }

    /// Creates a new temporary file in `directory` (mode `permissions` and the umask); the
    /// caller owns the descriptor and removes or renames the file.
    public static func create(in directory: String, permissions: mode_t = 0o600)
        throws(FileOperations.Failure) -> (descriptor: Int32, path: String) {
        let path = directory + "/" + name()
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw .init(operation: "cannot create", path: path, code: errno) }
        return (descriptor, path)
    }

    /// A fresh temporary path in `directory`, tracked for removal on interruption.
    public static func track(in directory: String) -> String {
        let path = directory + "/" + name()
        installHandlers()
        let copy = strdup(path)
        let previous = trackedPath.exchange(copy)
        free(previous)
        return path
    }

    /// Stops tracking (after the file was renamed into place or removed).
    public static func untrack() {
        free(trackedPath.exchange(nil))
    }

    /// Removes temporary files in `directory` left by writers that no longer run: of this
    /// machine and boot when their pid is gone, of another one when they have not changed for
    /// `foreignAgeSeconds`. One directory read.
    public static func removeAbandoned(in directory: String) {
        guard let names = try? FileOperations.directoryEntries(directory) else { return }
        removeAbandoned(in: directory, names: names)
    }

    /// As `removeAbandoned(in:)`, among `names`, the directory's entries as the caller has just
    /// listed them for a purpose of its own: a file created after that listing has a running
    /// writer, or is left for the next call.
    public static func removeAbandoned(in directory: String, names: [String]) {
        for name in names where name.hasPrefix(prefix) {
            let fields = name.dropFirst(prefix.count).split(separator: ".")
            guard fields.count == 2, let pid = pid_t(fields[0]), pid > 0, pid != getpid() else { continue }
            let path = directory + "/" + name
            if fields[1].hasPrefix(machineTag) {
                if !isRunning(pid) { unlink(path) }
            } else {
                var info = stat()
                if lstat(path, &info) == 0, UTCTime.now().secondsSinceEpoch - Int64(info.st_mtim.tv_sec) > foreignAgeSeconds {
                    unlink(path)
                }
            }
        }
    }

    /// False for a pid that is gone, or a zombie: a writer killed with SIGKILL whose parent
    /// has not reaped it yet (a detached prefetch worker, re-parented to an init that is slow
    /// to reap) writes no more, and its file is as abandoned as if it were gone.
    static func isRunning(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        // /proc/<pid>/stat: "pid (command) state …"; the command may hold spaces and parentheses.
        guard let stat = try? FileOperations.readWholeFile("/proc/\(pid)/stat", limit: 4096),
              let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return true }
        return stat[close + 2] != UInt8(ascii: "Z")
    }

    /// 8 hex digits for this host and boot: FNV-1a of the host name and the kernel's boot id.
    static let machineTag: String = {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        var identity = host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        // The boot id as the kernel prints it (with its newline), as this tag has always hashed it.
        if let boot = BootIdentifier.current { identity += Array((boot + "\n").utf8) }
        var hash: UInt32 = 2_166_136_261
        for byte in identity { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }()

    private static func installHandlers() {
        guard !handlersInstalled.exchange(true) else { return }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(signalNumber, handleSignal)
        }
    }
}

/// One pointer shared with the signal handler; only async-signal-safe calls touch it there.
private struct SignalSharedSlot: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: nil)
    }

    func exchange(_ value: UnsafeMutablePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
        var blocked = sigset_t()
        var previousMask = sigset_t()
        sigfillset(&blocked)
        pthread_sigmask(SIG_BLOCK, &blocked, &previousMask)
        defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
        let old = storage.pointee
        storage.pointee = value
        return old
    }

    var current: UnsafeMutablePointer<CChar>? { storage.pointee }
}

/// Set once per process (single-threaded).
private struct OnceFlag: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Bool>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: false)
    }

    func exchange(_ value: Bool) -> Bool {
        let old = storage.pointee
        storage.pointee = value
        return old
    }
}

private let trackedPath = SignalSharedSlot()
private let handlersInstalled = OnceFlag()

private func handleSignal(_ signalNumber: Int32) {
    if let path = trackedPath.current { unlink(path) }
    // Die of the same signal, so PostgreSQL sees what happened (it treats SIGTERM specially).
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
