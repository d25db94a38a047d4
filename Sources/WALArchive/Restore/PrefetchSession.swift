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
public struct PrefetchSession {
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

    /// The exit status when this call is complete without a download of its own: it was a
    /// worker, or its segment was served from the prefetch directory (perhaps after waiting for
    /// the running worker to finish downloading it). Nil: restore normally.
    public func completeWithoutDownload() -> Int32? {
        // The spawner makes the worker a session leader; a restore_command run by PostgreSQL
        // never is, so a stray marker in PostgreSQL's environment cannot turn a real fetch into
        // a worker that exits 0 without writing %p.
        if let value = environment[PrefetchWorker.environmentName], getsid(0) == getpid() {
            // A worker never writes %p, whatever happens.
            if let prefetch, let bytes = Int(value), let segmentSize = WALSegmentSize(bytes: bytes) {
                PrefetchWorker(prefetch: prefetch).run(configuration: configuration, segmentSize: segmentSize)
            }
            return FetchExitStatus.restored.rawValue
        }
        guard let prefetch, let served = prefetch.serve() ?? waitForWorker(prefetch) else { return nil }
        // The files ahead were counted in the listing that found this one: no second listing.
        spawnWorker(prefetch, segmentSize: served.segmentSize, ready: served.readyAhead)
        return FetchExitStatus.restored.rawValue
    }

    /// While this call downloads its own segment: called once the segment is known to be in the
    /// archive (its object's first bytes are arriving), it starts the worker now rather than
    /// after the download, so the next segments are on their way while this one arrives and
    /// the next call finds them sooner. The worker's window begins after this call's segment
    /// (`wantedSegments`), so it never downloads the one this call does; lock, window and
    /// free-space floor are the worker's own as for any worker. Only for a segment that exists:
    /// a standby asking for a segment past the end of the archive every few seconds starts
    /// nothing. The segment size is the object's original size (`wal-size`; not verified yet,
    /// but a wrong one only makes the worker fetch other names, each verified as always); an
    /// object without it starts the worker after the download, from the restored file's header.
    /// True when a worker was started.
    public func startWorkerEarly(found object: ObjectInfo) -> Bool {
        guard let prefetch, spawnsWorker, let text = object.metadata[PayloadMetadata.sizeName],
              let bytes = Int(text), let segmentSize = WALSegmentSize(bytes: bytes) else { return false }
        return spawnWorker(prefetch, segmentSize: segmentSize, ready: prefetch.readyCount(segmentSize: segmentSize))
    }

    /// After a normal restore of a segment that started no worker while it downloaded (one
    /// was running then, or the window was still full enough): keep the next ones coming.
    public func keepNextSegmentsComing() {
        guard let prefetch, spawnsWorker, let segmentSize = prefetch.restoredSegmentSize() else { return }
        spawnWorker(prefetch, segmentSize: segmentSize, ready: prefetch.readyCount(segmentSize: segmentSize))
    }

    /// How long a call waits for a running worker that is fetching its segment, before
    /// fetching it itself.
    static let workerWaitSeconds = 10

    /// A worker is running and its window holds this segment: wait for its file rather than
    /// download the same segment twice. Nil when there is none, or it did not come in time.
    private func waitForWorker(_ prefetch: RestorePrefetch) -> RestorePrefetch.Served? {
        guard let lock = PrefetchWorkerLock(walDirectory: prefetch.walDirectory) else { return nil }
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
            if let served = prefetch.serve() { return served }
            usleep(stepMicroseconds)
            waitedMicroseconds += Int(stepMicroseconds)
        }
        return nil
    }

    /// `ready`: how many files of the window are already in the prefetch directory. True when
    /// a worker was started.
    @discardableResult
    private func spawnWorker(_ prefetch: RestorePrefetch, segmentSize: WALSegmentSize, ready: Int) -> Bool {
        // Refill in batches, when half the window is used up: one process start per K/2
        // segments instead of one per segment, and the batch runs on parallel connections.
        guard spawnsWorker, ready <= prefetch.window(segmentSize: segmentSize) / 2,
              let lock = PrefetchWorkerLock(walDirectory: prefetch.walDirectory) else { return false }
        // Held: a worker is running and will fill the window; it is released again at once,
        // and the worker takes it itself (of two racing workers, the second runs after the first).
        guard lock.acquire() else { return false }
        lock.release()
        guard let executable = DetachedProcess.ownExecutable() else { return false }
        var environment = environment
        environment[PrefetchWorker.environmentName] = String(segmentSize.bytes)
        return DetachedProcess.spawn(executable: executable, arguments: arguments, environment: environment) != nil
    }
}
