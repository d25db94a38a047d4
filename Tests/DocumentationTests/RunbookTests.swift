import Foundation
import TestSupport
import XCTest

/// docs/pitr-runbook.md and docs/operations.md, followed literally: every shell and SQL block
/// runs as root in a sandbox of this machine (SandboxHost) with PostgreSQL 15 clusters in the
/// Debian and the plain layout, against a local S3 server, using the package's file tree
/// (`scripts/package --stage`). The checks between blocks assert the rows each step promises.
final class RunbookTests: XCTestCase {
    private var sandbox: SandboxHost?

    override func tearDown() {
        sandbox?.destroy()
        sandbox = nil
        super.tearDown()
    }

    /// Every runnable block of both documents is marked and run by a scenario, every pass follows
    /// its document's order, and every example value the tests replace is still in the documents.
    func testEveryCommandOfTheRunbookAndTheOperationsGuideIsRunInTheDocumentsOrder() throws {
        let blocks = try ScenarioRunner.load()
        let passes = Self.debianLayout + Self.plainLayout + Self.migrationFromAnAWSCopyScript
        try ScenarioRunner.validate(passes, blocks: blocks)
        let unused = Set(blocks.keys).subtracting(passes.flatMap(\.blockNames))
        XCTAssertEqual(unused, [], "blocks no scenario runs")
        let text = try Documents.all.map {
            try String(contentsOf: TestPaths.packageRoot.appendingPathComponent($0), encoding: .utf8)
        }.joined()
        for example in Documents.examples {
            XCTAssertTrue(text.contains(example), "the documents no longer show the example \(example)")
        }
    }

    /// Debian layout: a drill, a restore to a time that becomes the server (timeline 2), a copy at
    /// an LSN on the original timeline after that fork, and the server rebuilt from the first base
    /// backup following the newest timeline.
    func testDebianLayoutDrillRestoreToATimeCopyAtAnLSNAndTimelineFollow() throws {
        try run(Self.debianLayout)
    }

    /// Plain data directory: a drill whose start fails on a wrong secret and resumes once it is
    /// fixed, then the server restored to an LSN.
    func testPlainDataDirectoryFailedDrillThenRestoreToAnLSN() throws {
        try run(Self.plainLayout)
    }

    /// operations.md: a server archiving with an `aws s3 cp` script moves to wal-push, its old
    /// flat objects are deleted once the oldest kept base backup is newer than the switch, old
    /// date folders are deleted by the retention commands, and a drill still restores everything.
    func testMigrationFromAnAWSCopyScriptRetentionAndADrillAfterIt() throws {
        try run(Self.migrationFromAnAWSCopyScript)
    }

    private func run(_ passes: [Pass]) throws {
        guard geteuid() == 0 else {
            throw XCTSkip("the documents' commands run as root, as they are written; run the tests as root")
        }
        let blocks = try ScenarioRunner.load()
        let sandbox = try SandboxHost(packageTree: try PackageTree.staged())
        self.sandbox = sandbox
        try ScenarioRunner.run(passes, in: ScenarioContext(sandbox: sandbox), blocks: blocks)
    }

    // MARK: - Debian layout

    static var debianLayout: [Pass] {
        [
            Pass("an existing Debian cluster 15/main", [
                .check("pg_createcluster 15 main --start") { context in
                    try context.sandbox.succeed("pg_createcluster 15 main --start")
                },
            ]),
            Pass("runbook 0: archiving on, checked, a base backup", setUp(layout: "debian")),
            Pass("the applications write", [.check("rows A, a time, rows B, an LSN, rows C", writeHistory)]),
            Pass("runbook 1: no timeline but the first", [
                .run("list-timelines"),
                .check("nothing listed") { context in try require(!context.lastOutput.contains("== timeline"), context.lastOutput) },
            ]),
            Pass("runbook 2: the monthly drill, everything on the newest timeline", [
                .run("drill-create-debian"), .run("drill-configure"), .run("drill-target-latest"),
                .run("drill-start-debian"), .run("drill-wait"),
                .check("promoted with every row, archiving off") { context in
                    try require(context.lastOutput.contains("promoted"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5433), ["A": 3000, "B": 2000, "C": 1000])
                    try requireEqual(try context.sql("SHOW archive_mode", port: 5433), "off")
                },
                .run("drill-look"), .run("drill-remove-debian"),
                .check("the drill put no timeline into the archive") { context in
                    try requireEqual(try context.fetchStatus("00000002.history"), 1)
                },
            ]),
            Pass("runbook 3: the server back to the time before rows B", [
                .run("pitr-stop-debian"), .run("pitr-replace"), .run("pitr-configure"), .run("pitr-target-time"),
                .run("pitr-start-debian"), .run("pitr-wait"),
                .check("paused at the target with rows A only") { context in
                    try require(context.lastOutput.contains("paused"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5432), ["A": 3000])
                },
                .run("pitr-look"), .run("pitr-promote"), .run("pitr-clean-up"),
                .check("timeline 2, no recovery settings left") { context in
                    try requireEqual(try context.sql("SELECT pg_is_in_recovery()"), "f")
                    try requireEqual(try context.currentTimeline(), "2")
                    let autoConf = try context.sandbox.succeed("cat /var/lib/postgresql/15/main/postgresql.auto.conf")
                    try require(!autoConf.contains("recovery_target") && !autoConf.contains("restore_command"), autoConf)
                },
            ]),
            Pass("runbook 3.7: 0.5 and 0.6 again on the new timeline", [
                .run("check-archiving"), .run("backup-directory"), .run("base-backup"),
                .check("timeline 2 archived, two base backups") { context in
                    try requireEqual(try context.fetchStatus("00000002.history"), 0)
                    try requireEqual(try context.baseBackups().count, 2)
                },
                .check("the applications write rows D on timeline 2") { context in
                    try context.sql("INSERT INTO events SELECT g, 'D' FROM generate_series(7001, 7500) AS g")
                    try context.switchAndWaitUntilArchived()
                },
            ]),
            Pass("runbook 1: the timelines", [
                .run("list-timelines"),
                .check("timeline 2 forked off timeline 1") { context in
                    try require(context.lastOutput.contains("== timeline 2\n1\t"), context.lastOutput)
                },
            ]),
            Pass("runbook 2: a copy at the LSN after rows B, on the original timeline, from the first backup", [
                .run("drill-create-debian"), .run("drill-configure"), .run("drill-target-lsn"),
                .run("drill-start-debian"), .run("drill-wait"),
                .check("paused with rows A and B: timeline 2, which forked before the LSN, was not followed") { context in
                    try require(context.lastOutput.contains("paused"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5433), ["A": 3000, "B": 2000])
                },
                .run("drill-look"), .run("drill-remove-debian"),
            ]),
            Pass("runbook 3: the server is lost; rebuilt from the first backup along the newest timeline", [
                .check("the server dies") { context in
                    try context.sandbox.succeed("pg_ctlcluster 15 main stop -m immediate")
                },
                .run("pitr-stop-debian"), .run("pitr-replace"), .run("pitr-configure"), .run("pitr-target-latest"),
                .run("pitr-start-debian"), .run("pitr-wait"),
                .check("promoted with rows A and D: timeline 2 followed") { context in
                    try require(context.lastOutput.contains("promoted"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5432), ["A": 3000, "D": 500])
                },
                .run("pitr-look"), .run("pitr-promote"), .run("pitr-clean-up"),
                .check("timeline 3") { context in
                    try requireEqual(try context.currentTimeline(), "3")
                },
            ]),
        ]
    }

    // MARK: - Plain data directory

    static var plainLayout: [Pass] {
        [
            Pass("an existing plain data directory", [
                .check("initdb, pg_ctl start") { context in
                    try context.sandbox.succeed("""
                        install -d -o postgres -g postgres -m 700 /var/lib/postgresql/15
                        runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/15/main \
                            --auth-local=peer --auth-host=scram-sha-256 --no-instructions >/dev/null
                        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl start -D /var/lib/postgresql/15/main \
                            -l /var/log/postgresql/postgresql-15-main.log
                        """)
                },
            ]),
            Pass("runbook 0: archiving on, checked, a base backup", setUp(layout: "plain")),
            Pass("the applications write", [.check("rows A, a time, rows B, an LSN, rows C", writeHistory)]),
            Pass("runbook 2: a copy at the time before rows B, while the secret is wrong", [
                .run("drill-create-plain"), .run("drill-configure"), .run("drill-target-time"),
                .check("the secret file holds a wrong secret") { context in
                    try context.sandbox.succeed("echo wrongSecretForTheDocumentationTests > /etc/wal-archive/secret-access-key")
                },
                .runFailing("drill-start-plain"),
                .run("diagnose"),
                .check("the log says why: wal-fetch refused, recovery stopped with FATAL") { context in
                    try require(context.lastOutput.contains("wal-fetch: "), context.lastOutput)
                    try require(context.lastOutput.contains("access denied"), context.lastOutput)
                    try require(context.lastOutput.contains("FATAL:  could not restore file"), context.lastOutput)
                    try require(!context.lastOutput.contains("wrongSecretForTheDocumentationTests"), "secret in the log")
                },
            ]),
            Pass("runbook 0.2, then 2 again from the start: the secret fixed, the same copy recovers", [
                .run("write-config"),
                .run("drill-start-plain"), .run("drill-wait"),
                .check("paused with rows A only") { context in
                    try require(context.lastOutput.contains("paused"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5433), ["A": 3000])
                    try requireEqual(try context.sql("SHOW archive_mode", port: 5433), "off")
                },
                .run("drill-look"), .run("drill-remove-plain"),
            ]),
            Pass("runbook 3: the server back to the LSN after rows B", [
                .run("pitr-stop-plain"), .run("pitr-replace"), .run("pitr-configure"), .run("pitr-target-lsn"),
                .run("pitr-start-plain"), .run("pitr-wait"),
                .check("paused with rows A and B") { context in
                    try require(context.lastOutput.contains("paused"), context.lastOutput)
                    try requireEqual(try context.rowsByPhase(port: 5432), ["A": 3000, "B": 2000])
                },
                .run("pitr-look"), .run("pitr-promote"), .run("pitr-clean-up"),
                .check("timeline 2, archived") { context in
                    try requireEqual(try context.currentTimeline(), "2")
                    try context.switchAndWaitUntilArchived()
                    try requireEqual(try context.fetchStatus("00000002.history"), 0)
                },
            ]),
        ]
    }

    // MARK: - operations.md: from an aws s3 cp script to wal-push, retention

    static var migrationFromAnAWSCopyScript: [Pass] {
        [
            Pass("an existing Debian cluster archiving with `aws s3 cp %p s3://my-backups/pg/main/%f`", [
                .check("the old setup: flat objects, a base backup from before the switch") { context in
                    // PostgreSQL copies each segment aside and the script's `aws s3 cp` uploads it
                    // to <prefix>/<name>: the objects such a script leaves behind.
                    try context.sandbox.succeed("""
                        pg_createcluster 15 main
                        install -d -o postgres -g postgres -m 700 /var/lib/postgresql/old-script
                        cat > /etc/postgresql/15/main/conf.d/old-script.conf <<'EOF'
                        archive_mode = on
                        archive_command = 'cp %p /var/lib/postgresql/old-script/%f'
                        EOF
                        pg_ctlcluster 15 main start
                        install -d -o postgres -g postgres -m 700 /var/backups/postgresql
                        runuser -u postgres -- pg_basebackup -p 5432 --pgdata=/var/backups/postgresql/base-20000101T000000Z \
                            --wal-method=stream --checkpoint=fast
                        """)
                    context.values[Documents.olderBaseBackup] = "base-20000101T000000Z"
                    try context.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
                    try context.sql("INSERT INTO events SELECT g, 'A' FROM generate_series(1, 3000) AS g")
                    try context.switchAndWaitUntilArchived()
                    try context.sandbox.succeed("aws s3 cp --recursive --quiet /var/lib/postgresql/old-script/ s3://my-backups/pg/main/")
                    let flat = try context.archivedKeys().filter { !$0.contains("/") }
                    try require(flat.count >= 2, "\(flat)")
                },
            ]),
            Pass("runbook 0.1 to 0.3: the package, its config file, the prefix tied to the server", [
                .run("install-check"), .run("write-config"), .run("init-archive"), .run("probe-archive"),
                .check("the archive is reachable") { context in
                    try require(context.lastOutput.contains("exit status 1"), context.lastOutput)
                },
            ]),
            Pass("operations: switching from the script", [
                .run("migrate-legacy-on"), .run("migrate-read-old-segment"),
                .check("an old flat segment came back identical") { context in
                    try require(context.lastOutput.contains(": identical"), context.lastOutput)
                },
                .run("migrate-switch"),
                .check("the archive_command is wal-push") { context in
                    try require(context.lastOutput.contains("/usr/bin/wal-push --config /etc/wal-archive/wal-archive.conf %p"),
                                context.lastOutput)
                },
            ]),
            Pass("runbook 0.5 and 0.6: archiving checked, the first base backup after the switch", [
                .run("check-archiving"), .run("backup-directory"), .run("base-backup"),
            ]),
            Pass("operations: monitoring", [
                .run("monitoring-archiver"),
                .run("monitoring-waiting"), .run("monitoring-age"),
                .check("what the queries report: archiving is not failing, nothing is waiting") { context in
                    try requireEqual(try context.sql("""
                        SELECT coalesce(last_failed_time > last_archived_time, false) FROM pg_stat_archiver
                        """), "f")
                    try requireEqual(try context.sql("""
                        SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'
                        """), "0")
                },
            ]),
            Pass("operations: new segments land in date folders", [
                .run("migrate-verify"),
                .check("a dated key was listed") { context in
                    try require(context.lastOutput.range(of: #"/\d{4}-\d{2}-\d{2}/[0-9A-F]{24}"#, options: .regularExpression) != nil,
                                context.lastOutput)
                },
                .check("the applications write after the switch") { context in
                    try context.sql("INSERT INTO events SELECT g, 'B' FROM generate_series(3001, 5000) AS g")
                    try context.switchAndWaitUntilArchived()
                },
            ]),
            Pass("operations: retention drops the base backup from before the switch", [
                .run("retention-backups"), .run("retention-remove-backup"),
                .check("one base backup left, the one after the switch") { context in
                    let backups = try context.baseBackups()
                    try require(backups.count == 1 && backups[0] != "base-20000101T000000Z", "\(backups)")
                    context.values[Documents.baseBackup] = backups[0]
                },
            ]),
            Pass("operations: the flat objects are no longer needed, then deleted", [
                .run("migrate-check-switch"),
                .check("the check says so") { context in
                    try require(context.lastOutput.contains("the flat objects are no longer needed"), context.lastOutput)
                },
                .run("migrate-history-files"), .run("migrate-delete-flat"),
                .check("no flat object left; the identity and the dated ones kept") { context in
                    let keys = try context.archivedKeys()
                    try requireEqual(keys.filter { !$0.contains("/") }, ["wal-archive.json"])
                    try require(keys.contains { $0.range(of: #"^\d{4}-\d{2}-\d{2}/"#, options: .regularExpression) != nil },
                                "\(keys)")
                },
                .run("migrate-legacy-off"),
            ]),
            Pass("operations: retention deletes date folders before the oldest kept base backup's", [
                .check("an old date folder exists") { context in
                    try context.sandbox.succeed("echo old | aws s3 cp - s3://my-backups/pg/main/2000-01-01/000000010000000000000001.zst")
                },
                .run("retention-wal"),
                .check("the old folder is gone, the current one kept") { context in
                    let keys = try context.archivedKeys()
                    try require(!keys.contains { $0.hasPrefix("2000-01-01/") }, "\(keys)")
                    let today = try context.sandbox.succeed("date -u +%Y-%m-%d").trimmingCharacters(in: .whitespacesAndNewlines)
                    try require(keys.contains { $0.hasPrefix(today + "/") }, "\(keys)")
                },
                .run("credentials-rotate"),
            ]),
            Pass("runbook 2: a drill from the base backup after the switch restores every row", [
                .run("drill-create-debian"), .run("drill-configure"), .run("drill-target-latest"),
                .run("drill-start-debian"), .run("drill-wait"),
                .check("every row") { context in
                    try requireEqual(try context.rowsByPhase(port: 5433), ["A": 3000, "B": 2000])
                },
                .run("drill-remove-debian"),
            ]),
        ]
    }

    // MARK: - Shared steps

    /// Runbook section 0 for one layout.
    private static func setUp(layout: String) -> [Pass.Step] {
        [
            .run("install-check"), .run("write-config"), .run("init-archive"),
            .check("the archive holds this server's identity, and init again changes nothing") { context in
                try require(try context.archivedKeys().contains("wal-archive.json"), context.lastOutput)
                try context.sandbox.succeed("""
                    runuser -u postgres -- wal-archive init --config /etc/wal-archive/wal-archive.conf \
                        -D /var/lib/postgresql/15/main
                    """)
            },
            .run("probe-archive"),
            .check("the probe reached the archive: exit status 1") { context in
                try require(context.lastOutput.contains("exit status 1"), context.lastOutput)
            },
            .run("enable-archiving-\(layout)"), .run("check-archiving"), .run("backup-directory"), .run("base-backup"),
            .check("one base backup") { context in
                let backups = try context.baseBackups()
                try requireEqual(backups.count, 1)
                context.values[Documents.baseBackup] = backups[0]
            },
        ]
    }

    /// Rows A, the target time, rows B, the target LSN, rows C, all archived.
    private static func writeHistory(_ context: ScenarioContext) throws {
        try context.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
        try context.sql("INSERT INTO events SELECT g, 'A' FROM generate_series(1, 3000) AS g")
        context.values[Documents.targetTime] = try context.sql("SELECT clock_timestamp()")
        // Commit timestamps have microsecond resolution: make the next commit clearly later.
        usleep(20_000)
        try context.sql("INSERT INTO events SELECT g, 'B' FROM generate_series(3001, 5000) AS g")
        context.values[Documents.targetLSN] = try context.sql("SELECT pg_current_wal_insert_lsn()")
        try context.sql("INSERT INTO events SELECT g, 'C' FROM generate_series(5001, 6000) AS g")
        try context.switchAndWaitUntilArchived()
    }
}

/// Throws (ending the scenario with the evidence) unless `condition` holds.
func require(_ condition: Bool, _ evidence: @autoclosure () -> String) throws {
    guard condition else { throw DocumentationError("expectation failed:\n\(evidence())") }
}

func requireEqual<T: Equatable>(_ actual: T, _ expected: T) throws {
    guard actual == expected else { throw DocumentationError("expected \(expected), got \(actual)") }
}

/// The package's file tree laid out by `scripts/package --stage` from the executables this test
/// run built: what the sandbox installs over /usr and /etc.
enum PackageTree {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var tree: URL?

    static func staged() throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let tree { return tree }
        let directory = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-package-tree")
        let stage = directory.appendingPathComponent("root")
        let result = try PostgresCluster.run(TestPaths.packageRoot.appendingPathComponent("scripts/package").path, [
            "--binaries", TestPaths.builtProducts.path, "--stage", stage.path,
        ], environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"], timeoutSeconds: 300)
        guard result.succeeded else {
            throw PostgresClusterError("scripts/package --stage failed: \(result.standardError)\(result.standardOutput)")
        }
        // The sandbox's postgres user runs the executables from this tree.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        tree = stage
        return stage
    }
}
