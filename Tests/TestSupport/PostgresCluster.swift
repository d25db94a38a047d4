import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What went wrong while driving a test PostgreSQL cluster; the message carries the evidence
/// (command output or the tail of the server log) so a failing test explains itself.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Result of one command run by the test support code.
public struct CommandResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
    public var succeeded: Bool { status == 0 }
}

/// A snapshot of `pg_stat_archiver`.
public struct ArchiverStatus: Sendable, Equatable {
    public let archivedCount: Int
    public let lastArchivedWAL: String
    public let failedCount: Int
    public let lastFailedWAL: String
}

/// A real PostgreSQL cluster in a private temporary directory, for tests, of the installation
/// the tests selected (`PostgresInstallation.selected()`: PostgreSQL 15 unless
/// `WAL_ARCHIVE_TEST_PG` names another major) or of one given explicitly.
///
/// PostgreSQL refuses to run as root, so when the tests run as root every PostgreSQL binary runs as
/// user `postgres` through `runuser`, and everything the cluster touches lives in a directory that
/// user owns. The server listens only on a unix socket in its own directory, so clusters of parallel
/// test processes never collide on a port. `destroy()` (also called from `deinit` and at process
/// exit) stops the postmaster, escalating to an immediate shutdown and SIGKILL, and removes the files.
public final class PostgresCluster: @unchecked Sendable {
    public static let serviceUser = "postgres"

    public enum ShutdownMode: String, Sendable { case smart, fast, immediate }

    /// How a restored cluster starts: archive recovery (`recovery.signal`) or as a standby (`standby.signal`).
    public enum RecoveryMode: Sendable { case archiveRecovery, standby }

    /// The PostgreSQL whose programs run this cluster.
    public let installation: PostgresInstallation
    /// The private directory holding the data directory, socket, log, backups and scratch files.
    public let root: URL
    public let dataDirectory: URL
    public let socketDirectory: URL
    public let logFile: URL
    public let port: Int = 5432
    private var destroyed = false

    private init(root: URL, installation: PostgresInstallation) throws {
        self.installation = installation
        self.root = root
        dataDirectory = root.appendingPathComponent("data")
        socketDirectory = root.appendingPathComponent("socket")
        logFile = root.appendingPathComponent("server.log")
        try runAsService("/bin/mkdir", ["-m", "0700", socketDirectory.path], check: true)
    }

    deinit { destroy() }

    // MARK: - Creating clusters

    /// `initdb` a new cluster. `initdbOptions` are passed through (e.g. `--wal-segsize=1`);
    /// `settings` are postgresql.conf lines appended after the cluster's own ones.
    public static func initialize(initdbOptions: [String] = [], settings: [String] = [],
                                  installation: PostgresInstallation? = nil) throws -> PostgresCluster {
        let cluster = try PostgresCluster(root: try makeServiceOwnedDirectory(prefix: "wal-archive-pg"),
                                          installation: try installation ?? .selected())
        try cluster.runAsService(cluster.binary("initdb"), [
            "--pgdata=\(cluster.dataDirectory.path)", "--username=postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ] + initdbOptions, check: true)
        try cluster.appendSettings(cluster.connectionSettings + [
            "fsync = off",
            "log_line_prefix = '%m [%p] '",
            "log_checkpoints = off",
        ] + settings)
        return cluster
    }

    /// A new cluster whose data directory is a copy of the base backup `backup` (a plain-format
    /// `pg_basebackup` directory), with `settings` appended to postgresql.conf and the signal file
    /// for `mode` created: exactly the steps of docs/pitr-runbook.md. The backup must come from a
    /// cluster of `installation`'s major version (default: the selected one).
    public static func restore(fromBaseBackup backup: URL, settings: [String], mode: RecoveryMode = .archiveRecovery,
                               installation: PostgresInstallation? = nil) throws -> PostgresCluster {
        let cluster = try PostgresCluster(root: try makeServiceOwnedDirectory(prefix: "wal-archive-pg-restore"),
                                          installation: try installation ?? .selected())
        try cluster.runAsService("/bin/cp", ["-a", backup.path, cluster.dataDirectory.path], check: true)
        try cluster.appendSettings(cluster.connectionSettings + settings)
        let signal = mode == .archiveRecovery ? "recovery.signal" : "standby.signal"
        try cluster.runAsService("/usr/bin/touch", [cluster.dataDirectory.appendingPathComponent(signal).path],
                                 check: true)
        return cluster
    }

    /// Lines that make this cluster reachable only through its private socket directory.
    private var connectionSettings: [String] {
        [
            "listen_addresses = ''",
            "unix_socket_directories = '\(socketDirectory.path)'",
            "port = \(port)",
        ]
    }

    /// Appends lines to postgresql.conf; later lines override earlier ones.
    public func appendSettings(_ lines: [String]) throws {
        let file = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + lines.joined(separator: "\n") + "\n").utf8))
    }

    // MARK: - Running

    /// Starts the server with `pg_ctl start --wait`. `environment` is the postmaster's environment on
    /// top of a minimal PATH/LANG, inherited by `archive_command` and `restore_command`.
    /// Throws with the log tail if the server does not come up (in recovery: until it is consistent),
    /// and as soon as the postmaster exits (e.g. recovery stopped by a FATAL).
    public func start(environment: [String: String] = [:], timeoutSeconds: Int = 120) throws {
        let result = try runAsService(binary("pg_ctl"), [
            "start", "--pgdata=\(dataDirectory.path)", "--log=\(logFile.path)", "--wait",
            "--timeout=\(timeoutSeconds)",
        ], environment: environment, timeoutSeconds: Double(timeoutSeconds + 10))
        guard result.succeeded else {
            throw PostgresClusterError("pg_ctl start failed (\(result.status)): \(result.standardOutput)"
                + "\(result.standardError)\n--- server log tail ---\n\(serverLogTail())")
        }
    }

    /// Whether a postmaster is running for this data directory.
    public var isRunning: Bool {
        guard let pid = postmasterPID else { return false }
        return kill(pid, 0) == 0
    }

    private var postmasterPID: pid_t? {
        guard let text = try? String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let first = text.split(separator: "\n").first, let pid = pid_t(first) else { return nil }
        return pid
    }

    public func stop(mode: ShutdownMode = .fast, timeoutSeconds: Int = 60) throws {
        guard isRunning else { return }
        let result = try runAsService(binary("pg_ctl"), [
            "stop", "--pgdata=\(dataDirectory.path)", "--mode=\(mode.rawValue)", "--wait",
            "--timeout=\(timeoutSeconds)",
        ], timeoutSeconds: Double(timeoutSeconds + 10))
        guard result.succeeded || !isRunning else {
            throw PostgresClusterError("pg_ctl stop --mode=\(mode.rawValue) failed: \(result.standardError)")
        }
    }

    /// Stops the server (fast, then immediate, then SIGKILL) and removes every file. Idempotent.
    public func destroy() {
        guard !destroyed else { return }
        destroyed = true
        if isRunning { try? stop(mode: .fast, timeoutSeconds: 20) }
        if isRunning { try? stop(mode: .immediate, timeoutSeconds: 10) }
        if isRunning, let pid = postmasterPID {
            kill(pid, SIGKILL)
            _ = Self.poll(timeoutSeconds: 5) { kill(pid, 0) != 0 }
        }
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: - SQL

    /// Runs SQL through psql (unaligned, tuples only, stop on error) and returns its output, trimmed.
    @discardableResult
    public func sql(_ statements: String, database: String = "postgres") throws -> String {
        let result = try runAsService(binary("psql"), [
            "--no-psqlrc", "--no-align", "--tuples-only", "--quiet", "--set=ON_ERROR_STOP=1",
            "--host=\(socketDirectory.path)", "--port=\(port)", "--username=postgres",
            "--dbname=\(database)", "--command=\(statements)",
        ], environment: ["PGCONNECT_TIMEOUT": "10"])
        guard result.succeeded else {
            throw PostgresClusterError("psql failed (\(result.status)) for `\(statements)`: \(result.standardError)")
        }
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Switches to a new WAL segment and returns the name of the segment just completed.
    /// Writes one small WAL record first, so the switch always completes a segment.
    @discardableResult
    public func switchWAL() throws -> String {
        try sql("SELECT pg_logical_emit_message(false, 'wal-archive-test', 'switch')")
        return try sql("SELECT pg_walfile_name(pg_switch_wal())")
    }

    public func archiverStatus() throws -> ArchiverStatus {
        let row = try sql("""
            SELECT archived_count, coalesce(last_archived_wal, ''), failed_count, coalesce(last_failed_wal, '')
            FROM pg_stat_archiver
            """).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard row.count == 4, let archived = Int(row[0]), let failed = Int(row[2]) else {
            throw PostgresClusterError("unexpected pg_stat_archiver row: \(row)")
        }
        return ArchiverStatus(archivedCount: archived, lastArchivedWAL: row[1], failedCount: failed, lastFailedWAL: row[3])
    }

    /// Names of files waiting for archive_command (`pg_wal/archive_status/*.ready`, without the suffix).
    public func filesWaitingForArchive() -> [String] {
        let status = dataDirectory.appendingPathComponent("pg_wal/archive_status")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: status.path)) ?? []
        return names.filter { $0.hasSuffix(".ready") }.map { String($0.dropLast(".ready".count)) }.sorted()
    }

    /// Waits until `walFile` has been archived (its `.ready` marker is gone and `pg_stat_archiver`
    /// has counted it) and nothing else is waiting. Throws with the log tail on timeout.
    public func waitUntilArchived(_ walFile: String, timeoutSeconds: Double = 60) throws {
        let markers = dataDirectory.appendingPathComponent("pg_wal/archive_status")
        let done = Self.poll(timeoutSeconds: timeoutSeconds) {
            let archivedMarker = FileManager.default.fileExists(
                atPath: markers.appendingPathComponent(walFile + ".done").path)
            let segmentGone = !FileManager.default.fileExists(
                atPath: dataDirectory.appendingPathComponent("pg_wal/\(walFile)").path)
            return (archivedMarker || segmentGone) && filesWaitingForArchive().isEmpty
                && ((try? archiverStatus().archivedCount) ?? 0) > 0
        }
        guard done else {
            throw PostgresClusterError("\(walFile) not archived within \(Int(timeoutSeconds)) s; waiting: "
                + "\(filesWaitingForArchive()); status: \(String(describing: try? archiverStatus()))\n"
                + "--- server log tail ---\n\(serverLogTail())")
        }
    }

    /// Takes a plain-format base backup with WAL streamed into it, as docs/pitr-runbook.md does,
    /// into `<root>/backups/<name>`, and returns its directory.
    public func baseBackup(name: String = "base") throws -> URL {
        let backups = root.appendingPathComponent("backups")
        try runAsService("/bin/mkdir", ["-p", backups.path], check: true)
        let target = backups.appendingPathComponent(name)
        let result = try runAsService(binary("pg_basebackup"), [
            "--host=\(socketDirectory.path)", "--port=\(port)", "--username=postgres",
            "--pgdata=\(target.path)", "--wal-method=stream", "--checkpoint=fast",
        ], timeoutSeconds: 300)
        guard result.succeeded else {
            throw PostgresClusterError("pg_basebackup failed (\(result.status)): \(result.standardError)")
        }
        return target
    }

    /// Waits until recovery has ended and the server accepts writes (promotion). Throws as soon as
    /// the postmaster has exited (recovery failed) or on timeout, with the log tail.
    public func waitUntilPromoted(timeoutSeconds: Double = 120) throws {
        var postmasterExited = false
        let promoted = Self.poll(timeoutSeconds: timeoutSeconds) {
            guard isRunning else { postmasterExited = true; return true }
            return (try? sql("SELECT pg_is_in_recovery()")) == "f"
        }
        guard promoted, !postmasterExited else {
            throw PostgresClusterError((postmasterExited ? "server exited during recovery" : "recovery did not end "
                + "within \(Int(timeoutSeconds)) s") + "\n--- server log tail ---\n\(serverLogTail())")
        }
    }

    /// `SELECT timeline_id FROM pg_control_checkpoint()` after a checkpoint: the current timeline.
    public func currentTimeline() throws -> Int {
        try sql("CHECKPOINT")
        guard let timeline = Int(try sql("SELECT timeline_id FROM pg_control_checkpoint()")) else {
            throw PostgresClusterError("could not read the timeline")
        }
        return timeline
    }

    public func serverLog() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    public func serverLogTail(lines: Int = 40) -> String {
        serverLog().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: - Real WAL for tests

    /// Produces `count` completed WAL segments holding real row data (as PostgreSQL hands them to
    /// `archive_command`) and copies them into `directory`, which must exist. Returns their paths in
    /// WAL order. `walSegmentSizeMB` is any size initdb accepts (1 … 1024, a power of two).
    public static func makeCompletedWALSegments(count: Int, walSegmentSizeMB: Int = 16, into directory: URL,
                                                installation: PostgresInstallation? = nil) throws -> [URL] {
        let archive = try makeServiceOwnedDirectory(prefix: "wal-archive-segments")
        defer { try? FileManager.default.removeItem(at: archive) }
        let cluster = try initialize(initdbOptions: ["--wal-segsize=\(walSegmentSizeMB)"], settings: [
            "archive_mode = on",
            "archive_command = 'test ! -f \(archive.path)/%f && cp %p \(archive.path)/%f'",
        ], installation: installation)
        defer { cluster.destroy() }
        try cluster.start()
        try cluster.sql("CREATE TABLE filler (id bigint, payload text)")
        var completed: [String] = []
        let rowsPerSegment = max(1, walSegmentSizeMB * 1024 * 1024 / 200 / 2)
        for _ in 0..<count {
            try cluster.sql("""
                INSERT INTO filler SELECT g, md5(g::text) || repeat('x', 40) FROM generate_series(1, \(rowsPerSegment)) AS g
                """)
            completed.append(try cluster.switchWAL())
        }
        try cluster.waitUntilArchived(completed.last ?? "")
        let archived = try FileManager.default.contentsOfDirectory(atPath: archive.path)
            .filter { $0.count == 24 }.sorted().suffix(count)
        return try archived.map { name in
            let target = directory.appendingPathComponent(name)
            try FileManager.default.copyItem(at: archive.appendingPathComponent(name), to: target)
            return target
        }
    }

    // MARK: - Tools for archive_command / restore_command

    private static let toolsLock = NSLock()
    nonisolated(unsafe) private static var installedToolsDirectory: URL?

    /// A directory user `postgres` can read and execute holding copies of the built `wal-push`,
    /// `wal-fetch` and `wal-archive` (the clone may live where that user cannot read). Created once per test process.
    public static func toolsDirectory() throws -> URL {
        toolsLock.lock()
        defer { toolsLock.unlock() }
        if let installed = installedToolsDirectory { return installed }
        let directory = try makeServiceOwnedDirectory(prefix: "wal-archive-tools")
        for tool in ["wal-push", "wal-fetch", "wal-archive"] {
            let built = TestPaths.builtProducts.appendingPathComponent(tool)
            guard FileManager.default.isExecutableFile(atPath: built.path) else {
                throw PostgresClusterError("\(built.path) is missing: build all products first (scripts/run-tests does)")
            }
            let copy = directory.appendingPathComponent(tool)
            try FileManager.default.copyItem(at: built, to: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        }
        installedToolsDirectory = directory
        return directory
    }

    /// Writes `contents` to `file` so that only user `postgres` (and root) can read it: for config
    /// files holding secrets, as the runbook advises.
    public static func writeServiceFile(_ contents: String, to file: URL) throws {
        try Data(contents.utf8).write(to: file, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        try changeOwnerToService(file.path)
    }

    /// A fresh temporary directory (mode 0700) owned by user `postgres`, removed at process exit at the latest.
    public static func makeServiceOwnedDirectory(prefix: String) throws -> URL {
        // As root, /tmp: a TMPDIR under /root would be out of reach for user postgres.
        let parent = geteuid() == 0 ? "/tmp" : NSTemporaryDirectory()
        var template = Array("\(parent.hasSuffix("/") ? String(parent.dropLast()) : parent)/\(prefix).XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw PostgresClusterError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: created)
        try changeOwnerToService(path)
        guard chmod(path, 0o700) == 0 else { throw PostgresClusterError("chmod \(path) failed") }
        ProcessExitCleanup.shared.removeAtExit(path)
        return URL(fileURLWithPath: path)
    }

    private static func changeOwnerToService(_ path: String) throws {
        guard geteuid() == 0 else { return }
        guard let account = getpwnam(serviceUser) else {
            throw PostgresClusterError("user \(serviceUser) does not exist (install postgresql-15, whose package creates it)")
        }
        guard chown(path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
            throw PostgresClusterError("chown \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Processes

    func binary(_ name: String) -> String { installation.binary(name) }

    /// Runs a program as user `postgres` (via runuser when the tests run as root, directly otherwise).
    @discardableResult
    public func runAsService(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                             timeoutSeconds: Double = 120, check: Bool = false) throws -> CommandResult {
        let result = try Self.runAsService(executable, arguments, environment: environment,
                                           workingDirectory: root, timeoutSeconds: timeoutSeconds)
        if check && !result.succeeded {
            throw PostgresClusterError("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): "
                + result.standardError + result.standardOutput)
        }
        return result
    }

    public static func runAsService(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                    workingDirectory: URL? = nil, timeoutSeconds: Double = 120) throws -> CommandResult {
        if geteuid() == 0 {
            return try run("/usr/sbin/runuser", ["-u", serviceUser, "--", executable] + arguments,
                           environment: environment, workingDirectory: workingDirectory, timeoutSeconds: timeoutSeconds)
        }
        return try run(executable, arguments, environment: environment, workingDirectory: workingDirectory,
                       timeoutSeconds: timeoutSeconds)
    }

    /// Runs a program with a minimal environment plus `environment`, output captured through
    /// temporary files. Spawned with posix_spawn and every other descriptor closed: a daemon the
    /// program leaves behind (pg_ctl's postmaster) must not inherit anything that keeps us waiting.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           workingDirectory: URL? = nil, timeoutSeconds: Double = 120) throws -> CommandResult {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("wal-archive-run-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputFile = scratch.appendingPathComponent("stdout")
        let errorFile = scratch.appendingPathComponent("stderr")

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        markDescriptorsCloseOnExec()

        let fullEnvironment = HermeticEnvironment.merged(with: [
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "TZ": "UTC",
        ].merging(environment) { _, new in new })
        let command = workingDirectory.map { ["/usr/bin/env", "--chdir=\($0.path)", executable] } ?? [executable]
        let argv: [UnsafeMutablePointer<CChar>?] = (command + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = fullEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw PostgresClusterError("cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        let finished = poll(timeoutSeconds: timeoutSeconds) { waitpid(pid, &status, WNOHANG) == pid }
        if !finished {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            throw PostgresClusterError("\(executable) \(arguments.joined(separator: " ")) timed out after "
                + "\(Int(timeoutSeconds)) s")
        }
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return CommandResult(
            status: exitStatus,
            standardOutput: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
    }

    /// Marks every descriptor above stderr close-on-exec, so no child (nor a daemon it starts)
    /// keeps a pipe of this process open.
    private static func markDescriptorsCloseOnExec() {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for descriptor in descriptors.compactMap(Int32.init) where descriptor > 2 {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Evaluates `condition` until it holds (true) or the time is up (false), sleeping briefly between tries.
    public static func poll(timeoutSeconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var pause: useconds_t = 2_000
        while true {
            if condition() { return true }
            if Date() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 100_000)
        }
    }
}

/// Removes temporary directories at process exit, so a test process that fails before its
/// tearDown still leaves nothing behind (postmasters are stopped by `PostgresCluster.destroy()`).
final class ProcessExitCleanup: @unchecked Sendable {
    static let shared = ProcessExitCleanup()
    private let lock = NSLock()
    private var paths: [String] = []

    private init() {
        atexit {
            ProcessExitCleanup.shared.runAtExit()
        }
    }

    func removeAtExit(_ path: String) {
        lock.lock()
        paths.append(path)
        lock.unlock()
    }

    private func runAtExit() {
        lock.lock()
        let pending = paths
        lock.unlock()
        for path in pending {
            let pidFile = path + "/data/postmaster.pid"
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
               let first = text.split(separator: "\n").first, let pid = pid_t(first), kill(pid, 0) == 0 {
                kill(pid, SIGQUIT)
                _ = PostgresCluster.poll(timeoutSeconds: 5) { kill(pid, 0) != 0 }
                kill(pid, SIGKILL)
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
