import Glibc

/// The one naming scheme of every temporary file the tools create, wherever it is (next to
/// `%p`, in the tools' state directories, in a `file://` archive): `.wal-archive-tmp.<pid>.<random>`.
/// A SIGKILL cannot be caught, so the writer's pid is in the name: the next call in the same
/// directory removes those whose writer is gone. The file being written to `%p`'s directory is
/// also tracked, so a fetch stopped by PostgreSQL (SIGTERM at shutdown, SIGINT, SIGQUIT, SIGHUP)
/// removes it before it dies.
public enum TemporaryFileCleanup {
    public static let prefix = ".wal-archive-tmp."

    /// A fresh temporary name (no directory) carrying this process's pid.
    public static func name() -> String {
        prefix + String(getpid()) + "." + FileOperations.randomToken()
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

    /// Removes temporary files in `directory` left by writers that no longer run.
    public static func removeAbandoned(in directory: String) {
        guard let names = try? FileOperations.directoryEntries(directory) else { return }
        for name in names where name.hasPrefix(prefix) {
            let fields = name.dropFirst(prefix.count).split(separator: ".")
            guard fields.count == 2, let pid = pid_t(fields[0]), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(directory + "/" + name)
            }
        }
    }

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
