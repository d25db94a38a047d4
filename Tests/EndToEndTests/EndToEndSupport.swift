import Foundation
import TestSupport
import WALArchive
import XCTest

/// A test case whose clusters are destroyed after each test: `track` every cluster it makes.
class ClusterTestCase: XCTestCase {
    private var clusters: [PostgresCluster] = []

    override func tearDown() {
        clusters.forEach { $0.destroy() }
        clusters.removeAll()
        super.tearDown()
    }

    func track(_ cluster: PostgresCluster) { clusters.append(cluster) }
}

/// One archive destination as PostgreSQL sees it: a wal-archive config file user `postgres` can
/// read, and the archive_command / restore_command lines of postgres-conf/ that use it.
struct ArchiveDestination {
    /// Service-owned folder holding the config files (and, for `file://`, the archive).
    let folder: URL
    let configFile: URL
    let url: String
    /// Lists every key in the archive (relative to the destination's prefix), for assertions.
    let listKeys: () throws -> [String]

    var archiveCommand: String {
        get throws { "'\(try PostgresCluster.toolsDirectory().path)/wal-push --config \(configFile.path) %p'" }
    }

    func restoreCommand(configFile: URL? = nil) throws -> String {
        "'\(try PostgresCluster.toolsDirectory().path)/wal-fetch --config \((configFile ?? self.configFile).path) %f %p'"
    }

    /// postgresql.conf lines of postgres-conf/archive.conf for this destination.
    var archiveSettings: [String] {
        get throws { ["archive_mode = on", "archive_command = \(try archiveCommand)"] }
    }

    /// The runbook's first step: `wal-archive init -D` for `cluster`'s data directory, as user
    /// postgres, with the same config file as wal-push.
    func initialize(for cluster: PostgresCluster) throws {
        let tool = try PostgresCluster.toolsDirectory().appendingPathComponent("wal-archive").path
        let result = try cluster.runAsService(tool, ["init", "--config", configFile.path, "-D", cluster.dataDirectory.path])
        guard result.succeeded else {
            throw PostgresClusterError("wal-archive init failed (\(result.status)): \(result.standardError)\(result.standardOutput)")
        }
    }

    /// Writes a second config file for the same destination with some settings replaced.
    func writeVariant(_ name: String, replacing settings: [String: String]) throws -> URL {
        let original = try String(contentsOf: configFile, encoding: .utf8)
        let lines = original.split(separator: "\n").map { line -> String in
            let key = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return settings[key].map { "\(key) = \($0)" } ?? String(line)
        }
        let variant = folder.appendingPathComponent(name)
        try PostgresCluster.writeServiceFile(lines.joined(separator: "\n") + "\n", to: variant)
        return variant
    }

    /// An S3 destination on the shared local signature-checking server, under a fresh prefix;
    /// `encryptionKeyHex`: with client-side encryption, the key in a file beside the config.
    static func localS3(label: String, encryptionKeyHex: String? = nil) throws -> ArchiveDestination {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix(label).dropLast())
        let folder = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-e2e-conf")
        let configFile = folder.appendingPathComponent("wal-archive.conf")
        let url = "s3://\(server.bucket)/\(prefix)"
        var encryption = ""
        if let encryptionKeyHex {
            let keyFile = folder.appendingPathComponent("encryption.key")
            try PostgresCluster.writeServiceFile(encryptionKeyHex + "\n", to: keyFile)
            encryption = "encryption_key_file = \(keyFile.path)\n"
        }
        try PostgresCluster.writeServiceFile("""
            # written by the end-to-end tests; same keys as postgres-conf/wal-archive.conf
            url = \(url)
            endpoint = \(server.endpoint)
            region = \(server.region)
            path_style = true
            access_key_id = \(server.credentials.accessKeyID)
            secret_access_key = \(server.credentials.secretAccessKey)
            connect_timeout = 2
            retry_budget = 5
            max_attempts = 2
            \(encryption)
            """, to: configFile)
        let settings = server.settings()
        return ArchiveDestination(folder: folder, configFile: configFile, url: url) {
            let store = try S3Store(settings: settings)
            var keys: [String] = []
            var startAfter: String?
            while true {
                let page = try store.list(prefix: prefix + "/", delimiter: nil, startAfter: startAfter, limit: 1000)
                keys += page.keys
                guard page.keys.count == 1000, let last = page.keys.last else { break }
                startAfter = last
            }
            return keys.map { String($0.dropFirst(prefix.count + 1)) }
        }
    }

    /// A `file://` destination: a directory user `postgres` owns.
    static func directory() throws -> ArchiveDestination {
        let folder = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-e2e-dir")
        let archive = folder.appendingPathComponent("archive")
        let created = try PostgresCluster.runAsService("/bin/mkdir", [archive.path])
        guard created.succeeded else { throw PostgresClusterError("mkdir \(archive.path): \(created.standardError)") }
        let configFile = folder.appendingPathComponent("wal-archive.conf")
        let url = "file://\(archive.path)"
        try PostgresCluster.writeServiceFile("url = \(url)\n", to: configFile)
        return ArchiveDestination(folder: folder, configFile: configFile, url: url) {
            guard let walker = FileManager.default.enumerator(atPath: archive.path) else { return [] }
            return walker.compactMap { $0 as? String }.filter { path in
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: archive.appendingPathComponent(path).path,
                                                            isDirectory: &isDirectory)
                return exists && !isDirectory.boolValue
            }.sorted()
        }
    }
}

/// What a recovery should stop at, written as the recovery-pitr.conf line that asks for it.
enum RecoveryTarget {
    case time(String)
    case lsn(String)

    var setting: String {
        switch self {
        case .time(let time): return "recovery_target_time = '\(time)'"
        case .lsn(let lsn): return "recovery_target_lsn = '\(lsn)'"
        }
    }
}

/// The archived history of one origin cluster: a base backup, then rows before and after a target.
struct ArchivedHistory {
    let origin: PostgresCluster
    let backup: URL
    let target: RecoveryTarget
    let rowsBeforeTarget: Int
    let rowsAfterTarget: Int
    /// Segments completed (and archived) after the base backup, in order.
    let lastSegment: String
}

extension XCTestCase {
    /// The history every recovery test starts from: archiving on, base backup, rows, a recorded target, more rows, WAL switch,
    /// then everything archived with `failed_count` 0.
    func archiveHistory(to destination: ArchiveDestination, initdbOptions: [String] = [],
                        targetByLSN: Bool, track: (PostgresCluster) -> Void) throws -> ArchivedHistory {
        let origin = try PostgresCluster.initialize(initdbOptions: initdbOptions, settings: try destination.archiveSettings)
        track(origin)
        try destination.initialize(for: origin)
        try origin.start()
        try origin.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
        let backup = try origin.baseBackup()

        try origin.sql("INSERT INTO events SELECT g, 'before' FROM generate_series(1, 3000) AS g")
        try origin.switchWAL()
        try origin.sql("INSERT INTO events SELECT g, 'before' FROM generate_series(3001, 5000) AS g")
        let target: RecoveryTarget = targetByLSN
            ? .lsn(try origin.sql("SELECT pg_current_wal_insert_lsn()"))
            : .time(try origin.sql("SELECT clock_timestamp()"))
        // Commit timestamps have microsecond resolution: the next commit must come after the
        // target, so wait until the server's clock has passed it.
        if case .time(let time) = target {
            XCTAssertTrue(PostgresCluster.poll(timeoutSeconds: 10) {
                (try? origin.sql("SELECT clock_timestamp() > '\(time)'::timestamptz")) == "t"
            }, "the server's clock did not pass \(time)")
        }
        try origin.sql("INSERT INTO events SELECT g, 'after' FROM generate_series(5001, 6000) AS g")
        let lastSegment = try origin.switchWAL()
        try origin.waitUntilArchived(lastSegment)

        let status = try origin.archiverStatus()
        XCTAssertEqual(status.failedCount, 0, "archive_command failed: \(origin.serverLogTail())")
        XCTAssertGreaterThanOrEqual(status.archivedCount, 3)
        XCTAssertFalse(origin.serverLog().contains("archive command failed"), origin.serverLogTail())
        return ArchivedHistory(origin: origin, backup: backup, target: target, rowsBeforeTarget: 5000,
                               rowsAfterTarget: 1000, lastSegment: lastSegment)
    }

    /// A new cluster restored from `history`'s base backup with `settings`, started and waited
    /// for until recovery ended and it accepts writes (promoted); `track` gets it before it
    /// starts, so a failed start still cleans it up.
    func recoverAndPromote(_ history: ArchivedHistory, settings: [String], track: (PostgresCluster) -> Void) throws -> PostgresCluster {
        let restored = try PostgresCluster.restore(fromBaseBackup: history.backup, settings: settings)
        track(restored)
        try restored.start()
        try restored.waitUntilPromoted()
        return restored
    }

    /// Counts rows of `events` per phase, e.g. `["before": 5000]`.
    func rowsByPhase(_ cluster: PostgresCluster) throws -> [String: Int] {
        let output = try cluster.sql("SELECT phase, count(*) FROM events GROUP BY phase ORDER BY phase")
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: "|")
            if fields.count == 2, let count = Int(fields[1]) { counts[String(fields[0])] = count }
        }
        return counts
    }

    /// Asserts that `keys` hold `segment` under a `YYYY-MM-DD/` partition, compressed with zstd.
    func assertArchived(_ segment: String, in keys: [String], file: StaticString = #filePath, line: UInt = #line) {
        let matches = keys.filter { key in
            let parts = key.split(separator: "/")
            return parts.count == 2 && parts[0].count == 10 && parts[0].allSatisfy({ $0.isNumber || $0 == "-" })
                && parts[1] == "\(segment).zst"
        }
        XCTAssertEqual(matches.count, 1, "\(segment) not archived under a date partition; keys: \(keys)",
                       file: file, line: line)
    }
}
