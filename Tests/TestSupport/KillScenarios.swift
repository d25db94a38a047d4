import Foundation
import Glibc
import XCTest
import WALArchive

/// SIGKILL at random moments of `wal-push` (with push-ahead), `wal-fetch` and the prefetch
/// worker, for any archive: never a partial %p, never a file reported archived (exit 0 or a
/// push-ahead record) that the store does not hold with its checksum, after the next call no
/// temporary file anywhere the tools write (pg_wal, its state directories, the date folders of
/// a `file://` archive), and afterwards an archive holding every file once, exactly.
///
/// A few rounds run in the S3 tier, more in the resilience tier; 100 kills and more per tool
/// (docs/resilience.md):
/// `WAL_ARCHIVE_KILL_ROUNDS=400 scripts/run-tests --filter 'KillTests|KillS3Tests'`
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
    /// several dates, so a killed upload may leave its file in any date folder.
    ///
    /// Nothing may be reported archived that is not: right after each kill, every push-ahead
    /// record (which a later call answers 0 from) must name an object the store holds with the
    /// recorded checksum, and every exit 0 (of a run that finished before its kill, of the call
    /// after it, of the calls answered from records) is checked against the store at once
    /// (`ArchiveAudit`, directly). At the end the archive must hold exactly the pushed
    /// segments, once each, and each is fetched back and compared.
    @discardableResult
    public func pushesSurviveKills(environment: [String: String], archiveRoot: String?, rounds: KillRounds) throws -> KillTally {
        print("kill test seed \(rounds.seed), \(rounds.rounds) rounds (WAL_ARCHIVE_KILL_SEED, WAL_ARCHIVE_KILL_ROUNDS)")
        var generator = SeededGenerator(seed: rounds.seed)
        try TestArchives.initialize(environment: environment)
        let audit = try ArchiveAudit(environment: environment, scratch: try makeTemporaryDirectory(self, "killed-push-audit"))
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        let perRound = 5
        // SHA-256 of each segment: the files go as PostgreSQL recycles them, so a long run
        // keeps neither them nor their bytes.
        var digests: [String: String] = [:]
        var pushing = environment
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
        var lifetime: Int?
        var tally = KillTally(tool: "wal-push")
        var records = 0
        for round in 0..<rounds.rounds {
            let batch = (1...perRound).map { segmentName(timeline: 1, number: round * perRound + $0) }
            // One batch waits at a time, so no call pushes the next batch ahead of its round.
            for (offset, waiting) in batch.enumerated() {
                let segment = try TestSegments.writeSegment(name: waiting, in: walDirectory, segmentSize: Self.killSegmentSize,
                                                            seed: rounds.seed)
                let index = round * perRound + offset
                try TestSegments.setModificationTime(segment.path, UTCTime(secondsSinceEpoch: 1_767_225_600 + Int64(index / 4) * 86_400))
                digests[waiting] = ArchiveAudit.sha256Hex(segment.bytes)
                XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(waiting).ready", contents: Data()))
            }
            let name = batch[0]
            // The moment: anywhere in the life of an unkilled call (the first round's).
            if let lifetime {
                tally.sent += 1
                let killed = try spawnAndKill("wal-push", ["pg_wal/" + name], environment: pushing,
                                              after: Int.random(in: 0...lifetime, using: &generator))
                if killed.killed {
                    tally.hits += 1
                } else if killed.status == 0 {
                    try audit.requireStored([name: digests[name]!], "wal-push of \(name) said 0 before its kill")
                }
                records += try requirePushedRecordsStored(batch, digests: digests, audit: audit, "after a kill during the push of \(name)")
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
            try audit.requireStored(digests.filter { batch.contains($0.key) }, "wal-push said 0 after a kill during the push of \(name)")
            var left = temporaryFiles(under: walDirectory)
            if let archiveRoot { left += temporaryFiles(under: archiveRoot) }
            XCTAssertEqual(left, [], "left behind after the call that followed a kill during the push of \(name)")
            if (testRun?.totalFailureCount ?? 0) > 0 { break }
            // Archived: PostgreSQL recycles the files at a later checkpoint.
            for done in batch { unlink(walDirectory + "/" + done) }
        }
        print("kill test: \(tally); \(records) push-ahead records found after the kills, each naming a stored object")

        try requireArchiveHolds(digests, audit: audit, environment: environment)
        return tally
    }

    /// The archive after the kills: every name of `digests` once, nothing else, each with its
    /// checksum in the store and fetched back exactly (by the tools, so also when encrypted).
    private func requireArchiveHolds(_ digests: [String: String], audit: ArchiveAudit, environment: [String: String]) throws {
        let stored = try audit.keysByName()
        XCTAssertEqual(Set(stored.keys), Set(digests.keys), "the archive's names")
        try audit.requireStored(digests, "the archive after the kills")
        var fetching = environment
        fetching["WAL_ARCHIVE_PREFETCH"] = "0"
        let elsewhere = try makeTemporaryDirectory(self, "killed-restore")
        for name in digests.keys.sorted() {
            let fetch = try run("wal-fetch", [name, elsewhere + "/" + name], environment: fetching)
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertEqual(FileManager.default.contents(atPath: elsewhere + "/" + name).map(ArchiveAudit.sha256Hex), digests[name], name)
            unlink(elsewhere + "/" + name)
        }
    }

    /// Every push-ahead record of `names` must name an object the store holds with the
    /// record's checksum, the checksum of the file it stands for. Returns how many records there were.
    private func requirePushedRecordsStored(_ names: [String], digests: [String: String], audit: ArchiveAudit, _ context: String) throws -> Int {
        var found = 0
        for name in names {
            guard let text = try? String(contentsOfFile: walDirectory + "/.wal-archive/pushed/" + name, encoding: .utf8) else { continue }
            // The record's lines: format, archive, name, identity (two lines), SHA-256, key, checksum.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard lines.count == 9 else { continue }
            found += 1
            XCTAssertEqual(lines[5], digests[name], "\(context): the record of \(name)")
            try audit.requireObject(lines[6], sha256Hex: lines[5], "\(context): the record of \(name)")
        }
        return found
    }

    /// `rounds.rounds` times, in archive recovery with prefetch: PostgreSQL's `wal-fetch` of the
    /// next segment killed at a random moment (every other round, the prefetch worker it
    /// started instead), then run again; %p must be absent or exact right after the kill, the
    /// next call must exit 0 with the exact segment at %p, and once no worker runs, no
    /// temporary file is left in pg_wal or its state directories. At the end the archive must
    /// still hold exactly what was pushed, each file exact.
    @discardableResult
    public func fetchesSurviveKills(environment: [String: String], rounds: KillRounds) throws -> (fetch: KillTally, worker: KillTally) {
        print("kill test seed \(rounds.seed), \(rounds.rounds) rounds (WAL_ARCHIVE_KILL_SEED, WAL_ARCHIVE_KILL_ROUNDS)")
        var generator = SeededGenerator(seed: rounds.seed)
        try TestArchives.initialize(environment: environment)
        let source = try makeTemporaryDirectory(self, "killed-fetch-source")
        try FileManager.default.createDirectory(atPath: source + "/pg_wal/archive_status", withIntermediateDirectories: true)
        var digests: [String: String] = [:]
        let names = (1...(rounds.rounds + 6)).map { segmentName(timeline: 1, number: $0) }
        var pushing = environment
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "0"
        for name in names {
            let segment = try TestSegments.writeSegment(name: name, in: source + "/pg_wal", segmentSize: Self.killSegmentSize,
                                                        seed: rounds.seed)
            digests[name] = ArchiveAudit.sha256Hex(segment.bytes)
            let push = try run("wal-push", [segment.path], environment: pushing)
            XCTAssertEqual(push.status, 0, push.stderr)
            unlink(segment.path)
        }

        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        var fetching = environment
        fetching["WAL_ARCHIVE_PREFETCH"] = "4"
        var lifetime: Int?
        var fetchCeiling = 0
        var fetchTally = KillTally(tool: "wal-fetch")
        var workerTally = KillTally(tool: "prefetch worker")
        let prefetchDirectory = walDirectory + "/.wal-archive/prefetch"
        let target = walDirectory + "/RECOVERYXLOG"
        func restored() -> String? { FileManager.default.contents(atPath: target).map(ArchiveAudit.sha256Hex) }
        for (round, name) in names.prefix(rounds.rounds).enumerated() {
            // PostgreSQL renames or removes what it restored before it asks for the next file.
            unlink(target)
            if let lifetime, round % 2 == 0 {
                fetchTally.sent += 1
                let killed = try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching,
                                              after: Int.random(in: 0...fetchCeiling, using: &generator))
                // A fetch served from its prefetched copy is much shorter than the first one: a
                // kill that came too late bounds the next moments by that call's life, and each
                // hit widens them again, so the moments cover the life of the calls being killed.
                if killed.killed {
                    fetchTally.hits += 1
                    fetchCeiling = min(lifetime, fetchCeiling * 5 / 4)
                } else {
                    fetchCeiling = max(1_000, killed.lifetime)
                }
                // Never a partial %p: absent, or complete and exact.
                let written = restored()
                XCTAssertTrue(written == nil || written == digests[name], "\(name): %p holds other bytes after a kill")
                if !killed.killed && killed.status == 0 { XCTAssertEqual(written, digests[name], "\(name): exit 0 without %p") }
            } else if let lifetime {
                // The worker's turn: with the window emptied, the call downloads its segment and
                // starts a worker for the next ones, which is killed at a random moment of its batch.
                for file in (try? FileManager.default.contentsOfDirectory(atPath: prefetchDirectory)) ?? []
                where !file.hasPrefix(TemporaryFileCleanup.prefix) {
                    unlink(prefetchDirectory + "/" + file)
                }
                XCTAssertEqual(try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching, after: nil).status, 0)
                XCTAssertEqual(restored(), digests[name], name)
                unlink(target)
                workerTally.sent += 1
                if let worker = PrefetchWorkers.waitForHolder(walDirectory: walDirectory) {
                    usleep(UInt32(Int.random(in: 0...(2 * lifetime), using: &generator)))
                    if kill(worker, SIGKILL) == 0 {
                        workerTally.hits += 1
                        // kill() returns before the worker has died; the next call comes after its death.
                        Self.waitUntilEnded(worker)
                    }
                }
            } else {
                let unkilled = try spawnAndKill("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching, after: nil)
                XCTAssertEqual(unkilled.status, 0)
                lifetime = unkilled.lifetime
                fetchCeiling = unkilled.lifetime
                unlink(target)
            }
            let again = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching)
            XCTAssertEqual(again.status, 0, "\(name): \(again.stderr)")
            XCTAssertEqual(restored(), digests[name], name)
            // While no worker can run, nothing may be left.
            let left = PrefetchWorkers.whileIdle(walDirectory: walDirectory) { temporaryFiles(under: walDirectory) }
            XCTAssertEqual(left, [], "left behind after the call that followed a kill during the fetch of \(name)")
            if (testRun?.totalFailureCount ?? 0) > 0 { break }
        }
        print("kill test: \(fetchTally); \(workerTally)")
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        let audit = try ArchiveAudit(environment: environment, scratch: try makeTemporaryDirectory(self, "killed-fetch-audit"))
        try requireArchiveHolds(digests, audit: audit, environment: environment)
        return (fetchTally, workerTally)
    }
}

/// SIGKILLs of one tool in a kill test: how many were sent, and how many of them ended a
/// running process (the others came after it had exited; the test checks those too).
public struct KillTally: CustomStringConvertible {
    public var tool: String
    public var sent = 0
    public var hits = 0

    public var description: String { "\(tool): \(hits) of \(sent) SIGKILLs hit a running process" }
}
