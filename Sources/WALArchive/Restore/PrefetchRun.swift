import Glibc

/// What `wal-fetch` does around its restore for the prefetch: be the worker when started as
/// one, serve from the prefetch directory, and start a worker after serving.
///
/// The worker is this very executable (`/proc/self/exe`, never a `PATH` lookup) run with the
/// same arguments and environment plus `WAL_ARCHIVE_PREFETCH_WORKER=<segment size>`, started
/// with posix_spawn in a new session with stdin, stdout and stderr on /dev/null and no other
/// inherited descriptor: restore_command returns at once, nothing reaches the server log, and
/// signals to PostgreSQL's process group do not reach it. One worker at a time: it holds an
/// flock on `pg_wal/.wal-archive/prefetch.lock`; a call that finds it held starts none. The
/// worker exits after one batch (at most K downloads), so none outlives recovery for long.
public struct PrefetchRun {
    let prefetch: RestorePrefetch?
    let configuration: Configuration
    let arguments: [String]
    let environment: [String: String]
    let spawnsWorker: Bool

    /// `arguments` are the command's own (options, `%f`, `%p`), given again to the worker.
    /// `spawnsWorker` is false where the running executable is not `wal-fetch` (tests
    /// calling `FetchCommand.run` in-process).
    public init(configuration: Configuration, name: String, destination: String, arguments: [String],
                environment: [String: String], spawnsWorker: Bool) {
        self.prefetch = RestorePrefetch(configuration: configuration, name: name, destination: destination)
        self.configuration = configuration
        self.arguments = arguments
        self.environment = environment
        self.spawnsWorker = spawnsWorker
    }

    /// The exit status when this call is complete before any normal restore: it was a worker,
    /// or its segment was served from the prefetch directory (perhaps after waiting for the
    /// running worker to finish downloading it).
    public func before() -> Int32? {
        // The spawner makes the worker a session leader; a restore_command run by PostgreSQL
        // never is, so a stray marker in PostgreSQL's environment cannot turn a real fetch into
        // a worker that exits 0 without writing %p.
        if let value = environment[RestorePrefetch.workerEnvironmentName], getsid(0) == getpid() {
            // A worker never writes %p, whatever happens.
            if let prefetch, let bytes = Int(value), let segmentSize = WALSegmentSize(bytes: bytes) {
                runWorker(prefetch, segmentSize: segmentSize)
            }
            return FetchExitStatus.restored.rawValue
        }
        guard let prefetch, let segmentSize = prefetch.serve() ?? waitForWorker(prefetch) else { return nil }
        spawnWorker(prefetch, segmentSize: segmentSize)
        return FetchExitStatus.restored.rawValue
    }

    /// After a normal restore of a segment: keep the next ones coming.
    public func after() {
        guard let prefetch, let segmentSize = prefetch.restoredSegmentSize() else { return }
        spawnWorker(prefetch, segmentSize: segmentSize)
    }

    /// Downloads on this many connections at once: with object storage a round trip away,
    /// one connection leaves the worker behind replay.
    static let workerConnections = 8
    /// How long a call waits for a running worker that is fetching its segment, before
    /// fetching it itself.
    static let workerWaitSeconds = 10

    private func runWorker(_ prefetch: RestorePrefetch, segmentSize: WALSegmentSize) {
        ProcessSpawner.closeInheritedDescriptors()
        guard let lock = WorkerLock(walDirectory: prefetch.walDirectory), lock.acquireWaiting() else { return }
        defer { lock.release() }
        let wanted = prefetch.wantedSegments(segmentSize: segmentSize)
        guard let first = wanted.first, let last = wanted.last else { return }
        lock.announce(first: first.description, last: last.description)
        var stores: [any ObjectStore] = []
        for _ in 0..<min(prefetch.count, Self.workerConnections) {
            guard let store = try? configuration.makeStore() else { break }
            stores.append(store)
        }
        prefetch.runBatch(stores: stores, layout: configuration.layout, searchesLegacyFlatLayout: configuration.legacyFlatLayout,
                          preferredSuffix: configuration.compression.keySuffix, segmentSize: segmentSize)
    }

    /// A worker is running and its window holds this segment: wait for its file rather than
    /// download the same segment twice. Nil when there is none, or it did not come in time.
    private func waitForWorker(_ prefetch: RestorePrefetch) -> WALSegmentSize? {
        guard let lock = WorkerLock(walDirectory: prefetch.walDirectory) else { return nil }
        let name = prefetch.fileName.description
        let stepMicroseconds: UInt32 = 5_000
        var waitedMicroseconds = 0
        while waitedMicroseconds < Self.workerWaitSeconds * 1_000_000 {
            if lock.acquire() {
                lock.release()
                return prefetch.serve()
            }
            guard let window = lock.announcedWindow(), window.first <= name, name <= window.last,
                  window.first.prefix(8) == name.prefix(8) else { return nil }
            if let segmentSize = prefetch.serve() { return segmentSize }
            usleep(stepMicroseconds)
            waitedMicroseconds += Int(stepMicroseconds)
        }
        return nil
    }

    private func spawnWorker(_ prefetch: RestorePrefetch, segmentSize: WALSegmentSize) {
        // Refill in batches, when half the window is used up: one process start per K/2
        // segments instead of one per segment, and the batch runs on parallel connections.
        guard spawnsWorker, prefetch.readyCount(segmentSize: segmentSize) <= prefetch.count / 2,
              let lock = WorkerLock(walDirectory: prefetch.walDirectory) else { return }
        // Held: a worker is running and will fill the window; it is released again at once,
        // and the worker takes it itself (of two racing workers, the second runs after the first).
        guard lock.acquire() else { return }
        lock.release()
        guard let executable = Self.ownExecutable() else { return }
        var environment = environment
        environment[RestorePrefetch.workerEnvironmentName] = String(segmentSize.bytes)
        ProcessSpawner.spawnDetached(executable: executable, arguments: arguments, environment: environment)
    }

    /// The running executable's absolute path, as the kernel knows it.
    static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The flock that makes the prefetch worker unique per `pg_wal`.
final class WorkerLock {
    let descriptor: Int32

    init?(walDirectory: String) {
        let stateDirectory = walDirectory + "/.wal-archive"
        if !FileOperations.isDirectory(stateDirectory) && mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST { return nil }
        descriptor = open(stateDirectory + "/prefetch.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
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

/// posix_spawn of a detached child.
enum ProcessSpawner {
    /// POSIX_SPAWN_SETSID (glibc 2.26+) is only declared to C with _GNU_SOURCE, which Swift's
    /// Glibc module does not set; the value is fixed in glibc's spawn.h.
    static let setSessionFlag: Int32 = 0x80

    /// Descriptors above stderr that PostgreSQL's processes left open without close-on-exec
    /// (the worker must not keep them alive after the server is gone).
    static func closeInheritedDescriptors() {
        guard let names = try? FileOperations.directoryEntries("/proc/self/fd") else { return }
        for descriptor in names.compactMap({ Int32($0) }) where descriptor > 2 { close(descriptor) }
    }

    /// Starts `executable` in a new session with stdin/stdout/stderr on /dev/null; does not wait for it (it is re-parented when this process exits).
    @discardableResult
    static func spawnDetached(executable: String, arguments: [String], environment: [String: String]) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { return nil }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { return nil }
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(setSessionFlag | Int32(POSIX_SPAWN_SETSIGMASK)))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        return result == 0 ? pid : nil
    }
}
