import Foundation
import Glibc
import XCTest
import WALArchive

/// SIGKILL at random moments of `wal-push` (with push-ahead) and `wal-fetch` (with its prefetch
/// worker), for any archive: after the next call, no temporary file is left anywhere the tools
/// write (pg_wal, its state directories, the date folders of a `file://` archive), and every
/// file is still archived and restored exactly.
///
/// A bounded number of kills runs in CI; for a long run:
/// `WAL_ARCHIVE_KILL_ROUNDS=2000 scripts/run-tests --filter 'KillTests|KillS3Tests'`
/// (`WAL_ARCHIVE_KILL_SEED=<n>` repeats the moments of a run; each test prints its seed).
public struct KillRounds {
    public var rounds: Int
    public var seed: UInt64

    /// `defaultRounds` unless WAL_ARCHIVE_KILL_ROUNDS says otherwise.
    public static func fromEnvironment(defaultRounds: Int) -> KillRounds {
        let environment = ProcessInfo.processInfo.environment
        let rounds = environment["WAL_ARCHIVE_KILL_ROUNDS"].flatMap { Int($0) } ?? defaultRounds
        let seed = environment["WAL_ARCHIVE_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        return KillRounds(rounds: max(1, rounds), seed: seed)
    }
}

extension BuiltToolTestCase {
    static let killSegmentSize = 1 << 20

    /// Temporary files of the tools under `directory`, at any depth.
    public func temporaryFiles(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        return walker.compactMap { $0 as? String }.filter { FileOperations.baseName($0).hasPrefix(TemporaryFileCleanup.prefix) }
    }

    /// Starts `tool` from the data directory (posix_spawn and waitpid, without Foundation's
    /// delays, so the moments are the tool's own), kills it with SIGKILL after `delay` µs
    /// (nil: lets it finish); returns how long it lived in µs, whether the kill hit it running,
    /// and its exit status (-1 when a signal ended it).
    func spawnAndKill(_ tool: String, _ arguments: [String], environment: [String: String],
                      after delay: Int?) throws -> (lifetime: Int, killed: Bool, status: Int32) {
        let executable = TestPaths.builtProducts.appendingPathComponent(tool).path
        let quoted = ([executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let script = "cd '\(dataDirectory)' && exec \(quoted.joined(separator: " ")) </dev/null >/dev/null 2>&1"
        let words: [String] = ["/bin/sh", "-c", script]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let variables = HermeticEnvironment.merged(with: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0.key + "=" + $0.value) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let start = Self.microseconds()
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(.init(rawValue: spawned) ?? .EIO) }
        if let delay {
            usleep(UInt32(delay))
            kill(pid, SIGKILL)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return (Self.microseconds() - start, signaled && (status & 0x7f) == SIGKILL, signaled ? -1 : (status >> 8) & 0xff)
    }

    /// Returns once `pid` (not our child: a detached worker) is gone or a zombie: it writes
    /// nothing more. Looks every millisecond (no event tells a non-child's death).
    static func waitUntilEnded(_ pid: pid_t) {
        while let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), !stat[close...].dropFirst(2).hasPrefix("Z") {
            usleep(1_000)
        }
    }

    static func microseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int(spec.tv_sec) * 1_000_000 + Int(spec.tv_nsec) / 1_000
    }

    /// `rounds.rounds` times: PostgreSQL's `wal-push` of the oldest waiting segment, with
    /// push-ahead of the four after it, killed at a random moment, then run again as
    /// PostgreSQL would; it must exit 0 and leave no temporary file in pg_wal or
    /// (`archiveRoot`, for `file://`) the archive. Each round starts on five waiting segments
    /// nothing has stored yet, so every kill lands in real work; segments carry modification times on
    /// several dates, so a killed upload may leave its file in any date folder. At the end
    /// every segment is fetched back and compared. Returns how many kills hit a running call.
    @discardableResult
    public func pushesSurviveKills(environment: [String: String], archiveRoot: String?, rounds: KillRounds) throws -> Int {
        print("kill test seed \(rounds.seed), \(rounds.rounds) rounds (WAL_ARCHIVE_KILL_SEED, WAL_ARCHIVE_KILL_ROUNDS)")
        var generator = SeededGenerator(seed: rounds.seed)
        try TestArchives.initialize(environment: environment)
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        let perRound = 5
        var segments: [String: Data] = [:]
        let names = (1...(rounds.rounds * perRound)).map { segmentName(timeline: 1, number: $0) }
        for (index, name) in names.enumerated() {
            let segment = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: Self.killSegmentSize,
                                                        seed: rounds.seed)
            try TestSegments.setModificationTime(segment.path, UTCTime(secondsSinceEpoch: 1_767_225_600 + Int64(index / 4) * 86_400))
            segments[name] = segment.bytes
        }
        var pushing = environment
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
        var lifetime: Int?
        var hits = 0
        for round in 0..<rounds.rounds {
            let batch = names[(round * perRound)..<((round + 1) * perRound)]
            let name = batch.first!
            // One batch waits at a time, so no call pushes the next batch ahead of its round.
            for waiting in batch {
                XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(waiting).ready", contents: Data()))
            }
            // The moment: anywhere in the life of an unkilled call (the first round's).
            if let lifetime {
                if try spawnAndKill("wal-push", ["pg_wal/" + name], environment: pushing,
                                    after: Int.random(in: 0...lifetime, using: &generator)).killed {
                    hits += 1
                }
            } else {
                let unkilled = try spawnAndKill("wal-push", ["pg_wal/" + name], environment: pushing, after: nil)
                XCTAssertEqual(unkilled.status, 0)
                lifetime = unkilled.lifetime
            }
            let again = try run("wal-push", ["pg_wal/" + name], environment: pushing)
            XCTAssertEqual(again.status, 0, "\(name): \(again.stderr)")
            // PostgreSQL's later calls for the others answer from their records; as it would,
            // mark the batch done.
            for done in batch {
                if done != name {
                    let push = try run("wal-push", ["pg_wal/" + done], environment: pushing)
                    XCTAssertEqual(push.status, 0, "\(done): \(push.stderr)")
                }
                XCTAssertEqual(rename(walDirectory + "/archive_status/\(done).ready", walDirectory + "/archive_status/\(done).done"), 0)
            }
            var left = temporaryFiles(under: walDirectory)
            if let archiveRoot { left += temporaryFiles(under: archiveRoot) }
            XCTAssertEqual(left, [], "left behind after the call that followed a kill during the push of \(name)")
            if !left.isEmpty { break }
        }
        print("kill test: \(hits) of \(rounds.rounds - 1) kills hit a running wal-push")

        let elsewhere = try makeTemporaryDirectory(self, "killed-push-restore")
        for name in names {
            let fetch = try run("wal-fetch", [name, elsewhere + "/" + name], environment: environment)
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertEqual(FileManager.default.contents(atPath: elsewhere + "/" + name), segments[name], name)
        }
        return hits
    }

    /// `rounds.rounds` times, in archive recovery with prefetch: PostgreSQL's `wal-fetch` of the
    /// next segment killed at a random moment (every other round, the prefetch worker it
    /// started instead), then run again; it must exit 0 with the exact segment at %p, and once no worker
    /// runs, no temporary file is left in pg_wal or its state directories. Returns how many
    /// kills hit a running process.
    @discardableResult
    public func fetchesSurviveKills(environment: [String: String], rounds: KillRounds) throws -> Int {
        print("kill test seed \(rounds.seed), \(rounds.rounds) rounds (WAL_ARCHIVE_KILL_SEED, WAL_ARCHIVE_KILL_ROUNDS)")
        var generator = SeededGenerator(seed: rounds.seed)
        try TestArchives.initialize(environment: environment)
        let source = try makeTemporaryDirectory(self, "killed-fetch-source")
        try FileManager.default.createDirectory(atPath: source + "/pg_wal/archive_status", withIntermediateDirectories: true)
        var segments: [String: Data] = [:]
        let names = (1...(rounds.rounds + 6)).map { segmentName(timeline: 1, number: $0) }
        for name in names {
            segments[name] = try TestSegments.writeSegment(name: name, in: source + "/pg_wal", segmentSize: Self.killSegmentSize,
                                                           seed: rounds.seed).bytes
        }
        var pushing = environment
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "0"
        for name in names {
            let push = try run("wal-push", [source + "/pg_wal/" + name], environment: pushing)
            XCTAssertEqual(push.status, 0, push.stderr)
        }

        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        var fetching = environment
        fetching["WAL_ARCHIVE_PREFETCH"] = "4"
        var lifetime: Int?
        var (kills, hits, workerKills, workerHits) = (0, 0, 0, 0)
        let prefetchDirectory = walDirectory + "/.wal-archive/prefetch"
        for (round, name) in names.prefix(rounds.rounds).enumerated() {
            if let lifetime, round % 2 == 0 {
                kills += 1
                if try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching,
                                    after: Int.random(in: 0...lifetime, using: &generator)).killed {
                    hits += 1
                }
            } else if let lifetime {
                // The worker's turn: with the window emptied, the call downloads its segment and
                // starts a worker for the next ones, which is killed at a random moment of its batch.
                for file in (try? FileManager.default.contentsOfDirectory(atPath: prefetchDirectory)) ?? []
                where !file.hasPrefix(TemporaryFileCleanup.prefix) {
                    unlink(prefetchDirectory + "/" + file)
                }
                XCTAssertEqual(try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching, after: nil).status, 0)
                workerKills += 1
                if let worker = PrefetchWorkers.waitForHolder(walDirectory: walDirectory) {
                    usleep(UInt32(Int.random(in: 0...(2 * lifetime), using: &generator)))
                    if kill(worker, SIGKILL) == 0 {
                        workerHits += 1
                        // kill() returns before the worker has died; the next call comes after its death.
                        Self.waitUntilEnded(worker)
                    }
                }
            } else {
                let unkilled = try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching, after: nil)
                XCTAssertEqual(unkilled.status, 0)
                lifetime = unkilled.lifetime
            }
            let again = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching)
            XCTAssertEqual(again.status, 0, "\(name): \(again.stderr)")
            XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG"), segments[name], name)
            // While no worker can run, nothing may be left.
            let left = PrefetchWorkers.whileIdle(walDirectory: walDirectory) { temporaryFiles(under: walDirectory) }
            XCTAssertEqual(left, [], "left behind after the call that followed a kill during the fetch of \(name)")
            if !left.isEmpty { break }
        }
        print("kill test: \(hits) of \(kills) kills hit a running wal-fetch, \(workerHits) of \(workerKills) a running prefetch worker")
        return hits + workerHits
    }
}
