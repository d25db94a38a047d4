import Foundation
import TestSupport
import WALArchive
import XCTest

/// pgbench against a real PostgreSQL archiving with `archive_command = 'wal-push %p'` through
/// FaultProxy, which fails a few percent of the requests with every kind of fault and, once,
/// every upload for longer than a call's retry budget; then a
/// recovery of a base backup to the end of the archive (restore_command through the same
/// faults), and every table compared with the source by checksum.
///
/// `pg_stat_archiver.failed_count` must be explained by the injected faults alone: each failed
/// call (the tools log one logfmt line per call, `log = info`) failed with exit 1 on a segment
/// the proxy injected faults into, and there are no more failed calls than faults.
///
/// `WAL_ARCHIVE_SOAK_SECONDS` sets how long pgbench runs (default 120: the CI variant); the
/// long variant is `WAL_ARCHIVE_SOAK_SECONDS=3600 scripts/run-tests --filter SoakTests`
/// (docs/resilience.md).
final class SoakTests: XCTestCase {
    private var clusters: [PostgresCluster] = []

    override func tearDown() {
        for cluster in clusters { cluster.destroy() }
        clusters = []
        super.tearDown()
    }

    func testPgbenchArchivingThroughFaultsRestoresEveryTableExactly() throws {
        let seconds = ProcessInfo.processInfo.environment["WAL_ARCHIVE_SOAK_SECONDS"].flatMap { Int($0) } ?? 120
        let seed = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("soak: seed \(seed), pgbench for \(seconds) s")
        let server = try LocalS3Server.shared()
        let proxy = try FaultProxy(upstream: server.endpoint)
        defer { proxy.stop() }
        let archive = try SoakArchive(server: server, endpoint: proxy.endpoint)

        // 1 MiB segments: many archive_command calls in a short run, each a chance for a fault.
        let origin = try PostgresCluster.initialize(initdbOptions: ["--wal-segsize=1"], settings: [
            "archive_mode = on", "archive_command = '\(try archive.command("wal-push")) %p'",
            "max_wal_size = 256MB", "checkpoint_timeout = 30s",
        ])
        clusters.append(origin)
        // The runbook's first step, before any fault is planned.
        try archive.initialize(for: origin)
        try origin.start()
        let pgbench = origin.installation.binary("pgbench")
        let connection = ["--host=\(origin.socketDirectory.path)", "--port=\(origin.port)", "--username=postgres"]
        try origin.runAsService(pgbench, ["--initialize", "--scale=5", "--quiet"] + connection + ["postgres"],
                                timeoutSeconds: 600, check: true)
        let backup = try origin.baseBackup()

        // A few percent of the requests fail, every kind of fault among them.
        proxy.plan = FaultProxy.Plan(rules: [
            .init(faults: [.reset, .resetAfterForwarding, .stall, .status(503, code: "SlowDown"),
                           .status(500, code: "InternalError"), .flipRequestByte], probability: 0.04,
                  filter: .init(methods: ["PUT"])),
            .init(faults: [.reset, .resetAfterForwarding, .stall, .status(503, code: "SlowDown"),
                           .status(500, code: "InternalError")], probability: 0.04, filter: .init(methods: ["HEAD"])),
            .init(faults: [.reset, .resetAfterForwarding, .stall, .status(503, code: "SlowDown"),
                           .status(500, code: "InternalError"), .cutBody(fraction: 0.5), .flipResponseByte,
                           .trickle(bytesPerSecond: 512 * 1024)], probability: 0.04, filter: .init(methods: ["GET"])),
        ], seed: seed)
        // And an outage of the uploads longer than a call's retry budget (the next 100 PUTs
        // answered 503, counted, not timed): archive_command must fail, with exit 1, and
        // PostgreSQL archives the files later.
        proxy.script(Array(repeating: .status(503, code: "SlowDown"), count: 100), filter: .init(methods: ["PUT"]))

        let run = try origin.runAsService(pgbench, ["--client=4", "--jobs=2", "--time=\(seconds)", "--no-vacuum"]
                                          + connection + ["postgres"], timeoutSeconds: Double(seconds) + 600)
        XCTAssertTrue(run.succeeded, run.standardError)
        let transactions = run.standardOutput.split(separator: "\n").first { $0.hasPrefix("number of transactions actually processed") } ?? ""
        let last = try origin.switchWAL()
        try origin.waitUntilArchived(last, timeoutSeconds: 600)
        let source = try TableChecksums(origin)
        let status = try origin.archiverStatus()
        let pushFaults = proxy.records.filter { $0.fault != nil }

        // Every failed archive_command call, from the tools' own log lines.
        let failedCalls = origin.serverLog().split(separator: "\n").filter {
            $0.contains("tool=wal-push") && $0.contains(" exit=")
        }
        XCTAssertEqual(failedCalls.count, status.failedCount, "failed calls logged vs pg_stat_archiver:\n\(failedCalls.joined(separator: "\n"))")
        XCTAssertGreaterThan(status.failedCount, 0, "the outage outlasted a call's retry budget")
        XCTAssertLessThanOrEqual(status.failedCount, pushFaults.count)
        for line in failedCalls {
            XCTAssertTrue(line.contains(" exit=1 "), "only transient failures: \(line)")
            let file = line.split(separator: " ").first { $0.hasPrefix("file=") }.map { String($0.dropFirst(5)) } ?? "?"
            XCTAssertTrue(pushFaults.contains { $0.target.contains(file) }, "\(file) failed without a fault on its requests: \(line)")
        }

        // Recovery of the base backup to the end of the archive, through the same faults.
        let restored = try PostgresCluster.restore(fromBaseBackup: backup, settings: [
            "restore_command = '\(try archive.command("wal-fetch")) %f %p'",
        ])
        clusters.append(restored)
        try restored.start(timeoutSeconds: 600)
        try restored.waitUntilPromoted(timeoutSeconds: 600)
        let copy = try TableChecksums(restored)
        XCTAssertEqual(copy, source, "tables after recovery")
        let allFaults = proxy.records.filter { $0.fault != nil }

        print("soak: \(transactions); \(status.archivedCount) files archived, failed_count \(status.failedCount), "
              + "\(failedCalls.count) failed calls logged, each on a faulted segment")
        print("soak: \(proxy.records.count) requests, \(allFaults.count) faults injected (\(pushFaults.count) while archiving)")
        for (kind, count) in Dictionary(grouping: allFaults, by: { $0.fault!.description }).mapValues(\.count).sorted(by: { $0.key < $1.key }) {
            print("soak: \(kind): \(count)")
        }
        print("soak: \(copy.tables.count) tables, \(copy.rows) rows, \(copy.bytes) bytes of row text compared, equal by md5")
    }
}

/// The archive's config file, readable by user postgres, pointing the tools at `endpoint`.
private struct SoakArchive {
    let configFile: URL

    init(server: LocalS3Server, endpoint: String) throws {
        let folder = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-soak-conf")
        configFile = folder.appendingPathComponent("wal-archive.conf")
        // The tools' environment for a fresh prefix, as config-file lines. A stall costs the
        // low-speed timeout (2 s), then the request is sent again; one log line per call
        // (log = info) says how each call ended.
        let environment = server.toolEnvironment("soak", endpoint: endpoint, retryBudget: 10)
            .merging(["WAL_ARCHIVE_LOW_SPEED_TIMEOUT": "2", "WAL_ARCHIVE_LOG": "info"]) { $1 }
        var lines: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            guard let setting = ConfigurationSetting.allCases.first(where: { $0.environmentNames.contains(name) }) else {
                throw PostgresClusterError("no setting is read from \(name)")
            }
            lines.append("\(setting.fileKey) = \(value)")
        }
        try PostgresCluster.writeServiceFile(lines.joined(separator: "\n") + "\n", to: configFile)
    }

    /// `wal-archive init -D` for `cluster`, as user postgres, with the tools' config file.
    func initialize(for cluster: PostgresCluster) throws {
        let result = try cluster.runAsService(try PostgresCluster.toolsDirectory().appendingPathComponent("wal-archive").path,
                                              ["init", "--config", configFile.path, "-D", cluster.dataDirectory.path])
        guard result.succeeded else {
            throw PostgresClusterError("wal-archive init failed (\(result.status)): \(result.standardError)\(result.standardOutput)")
        }
    }

    func command(_ tool: String) throws -> String {
        "\(try PostgresCluster.toolsDirectory().path)/\(tool) --config \(configFile.path)"
    }
}

/// md5 of every user table's rows in key order, with the row and byte counts compared.
private struct TableChecksums: Equatable {
    var tables: [String: String]
    var rows: Int
    var bytes: Int

    init(_ cluster: PostgresCluster) throws {
        let names = try cluster.sql("SELECT relname FROM pg_stat_user_tables ORDER BY relname").split(separator: "\n").map(String.init)
        var tables: [String: String] = [:]
        var rows = 0
        var bytes = 0
        for name in names {
            // Every column in order: pgbench_history has no key, so the whole row is the order.
            let row = try cluster.sql("""
                SELECT count(*), coalesce(sum(length(t::text)), 0), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))
                FROM \(name) AS t
                """).split(separator: "|").map(String.init)
            guard row.count == 3, let count = Int(row[0]), let length = Int(row[1]) else {
                throw PostgresClusterError("unexpected checksum row for \(name): \(row)")
            }
            tables[name] = row[2] + " (\(count) rows)"
            rows += count
            bytes += length
        }
        self.tables = tables
        self.rows = rows
        self.bytes = bytes
    }
}
