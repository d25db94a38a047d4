import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// `wal-archive check`, `list`, `verify` and `prune` against real clusters archiving to the
/// local S3 server.
final class OperatorCommandsEndToEndTests: ClusterTestCase {
    /// The built `wal-archive` with `--config` of `destination` (run as root, as an operator might).
    private func walArchive(_ arguments: [String], _ destination: ArchiveDestination) throws -> CommandResult {
        let tool = try PostgresCluster.toolsDirectory().appendingPathComponent("wal-archive").path
        guard let subcommand = arguments.first else { throw PostgresClusterError("no subcommand") }
        return try PostgresCluster.run(tool, [subcommand, "--config", destination.configFile.path] + arguments.dropFirst(),
                                       timeoutSeconds: 300)
    }

    private func json(_ result: CommandResult) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                      result.standardOutput + result.standardError)
    }

    private func s3Store() throws -> S3Store {
        try S3Store(settings: try LocalS3Server.shared().settings())
    }

    /// The bucket key of the archived segment `name` (compressed, under its date).
    private func key(of name: String, in destination: ArchiveDestination) throws -> String {
        let prefix = String(destination.url.split(separator: "/", maxSplits: 3).last ?? "")
        let relative = try XCTUnwrap(try destination.listKeys().first { $0.hasSuffix("/" + name + ".zst") }, "\(name) not archived")
        return prefix + "/" + relative
    }

    func testCheckIsGreenForTheClusterAndNamesAnotherClusterAndAForeignArchiveCommand() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-check")
        let origin = try PostgresCluster.initialize(settings: try destination.archiveSettings + [
            "restore_command = \(try destination.restoreCommand())",
        ])
        track(origin)
        try origin.start()
        let created = try walArchive(["init", "-D", origin.dataDirectory.path], destination)
        XCTAssertEqual(created.status, 0, created.standardError)

        let good = try walArchive(["check", "-D", origin.dataDirectory.path, "--postgres", origin.installation.binary("postgres")],
                                  destination)
        XCTAssertEqual(good.status, 0, good.standardOutput + good.standardError)
        let tools = try PostgresCluster.toolsDirectory().path
        XCTAssertTrue(good.standardOutput.contains("ok       archive_mode = on\n"), good.standardOutput)
        XCTAssertTrue(good.standardOutput.contains("ok       archive_command calls \(tools)/wal-push with this archive\n"), good.standardOutput)
        XCTAssertTrue(good.standardOutput.contains("ok       restore_command calls \(tools)/wal-fetch with this archive\n"), good.standardOutput)
        XCTAssertTrue(good.standardOutput.contains("ok       data directory \(origin.dataDirectory.path) is the archive's system"),
                      good.standardOutput)

        // Another cluster's data directory: its system is not the archive's.
        let other = try PostgresCluster.initialize(settings: try destination.archiveSettings)
        track(other)
        let otherCheck = try walArchive(["check", "-D", other.dataDirectory.path, "--postgres", other.installation.binary("postgres")],
                                        destination)
        XCTAssertEqual(otherCheck.status, 5, otherCheck.standardOutput + otherCheck.standardError)
        XCTAssertTrue(otherCheck.standardOutput.contains("PROBLEM  data directory \(other.dataDirectory.path) is system "),
                      otherCheck.standardOutput)
        XCTAssertTrue(otherCheck.standardOutput.contains("but the archive belongs to system "), otherCheck.standardOutput)

        // archive_command archiving elsewhere (another prefix), as PostgreSQL resolves it after a reload.
        let elsewhere = try destination.writeVariant("elsewhere.conf", replacing: ["url": destination.url + "-elsewhere"])
        try origin.appendSettings(["archive_command = '\(tools)/wal-push --config \(elsewhere.path) %p'"])
        let pointed = try walArchive(["check", "-D", origin.dataDirectory.path, "--postgres", origin.installation.binary("postgres")],
                                     destination)
        XCTAssertEqual(pointed.status, 5, pointed.standardOutput + pointed.standardError)
        XCTAssertTrue(pointed.standardOutput.contains("PROBLEM  archive_command uses the archive \(destination.url)-elsewhere"),
                      pointed.standardOutput)
        XCTAssertEqual(pointed.standardOutput.components(separatedBy: "PROBLEM").count - 1, 1, pointed.standardOutput)
    }

    func testListAndVerifyFollowARealPromotionAndNameADeletedAndACorruptedSegment() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-verify")
        let history = try archiveHistory(to: destination, targetByLSN: false, track: track)
        let restored = try recoverAndPromote(history, settings: try destination.archiveSettings + [
            "restore_command = \(try destination.restoreCommand())", history.target.setting,
            "recovery_target_action = 'promote'",
        ], track: track)
        XCTAssertEqual(try restored.currentTimeline(), 2)
        try restored.sql("INSERT INTO events SELECT g, 'timeline 2' FROM generate_series(7001, 9000) AS g")
        try restored.switchWAL()
        let newest = try restored.switchWAL()
        try restored.waitUntilArchived(newest)

        let list = try json(try walArchive(["list", "--json"], destination))
        let timelines = try XCTUnwrap(list["timelines"] as? [[String: Any]])
        let second = try XCTUnwrap(timelines.first { $0["timeline"] as? Int == 2 })
        let fork = try XCTUnwrap((second["history"] as? [[String: Any]])?.first)
        XCTAssertEqual(fork["parent"] as? Int, 1)
        let switchLSN = try XCTUnwrap(fork["switch_lsn"] as? String)
        XCTAssertEqual((list["backups"] as? [[String: Any]])?.count, 1)
        let text = try walArchive(["list"], destination)
        XCTAssertTrue(text.standardOutput.contains("2: forked from timeline 1 at \(switchLSN)"), text.standardOutput)

        let verify = try walArchive(["verify", "--deep"], destination)
        XCTAssertEqual(verify.status, 0, verify.standardOutput + verify.standardError)
        XCTAssertTrue(verify.standardOutput.contains("  timeline 2: "), verify.standardOutput)
        XCTAssertTrue(verify.standardOutput.contains("verify: complete: "), verify.standardOutput)
        XCTAssertTrue(verify.standardOutput.contains("up to \(newest)"), verify.standardOutput)

        // Delete a segment of timeline 1 after the backup, corrupt the newest of timeline 2.
        let segments = try destination.listKeys().compactMap { key -> String? in
            let name = String(key.split(separator: "/").last ?? "")
            return name.hasSuffix(".zst") && name.count == 28 ? String(name.dropLast(4)) : nil
        }.sorted()
        let deleted = try XCTUnwrap(segments.filter { $0.hasPrefix("00000001") }.dropFirst().first, "\(segments)")
        let store = try s3Store()
        try store.delete(key: try key(of: deleted, in: destination))
        let damagedKey = try key(of: newest, in: destination)
        let original = CollectingSink()
        let info = try store.get(key: damagedKey, into: original)
        var damaged = original.bytes
        damaged[damaged.count / 2] ^= 0x5A
        try putBytes(store, key: damagedKey, damaged, metadata: info.metadata)

        // The store downloads a body that fails verification again, and calls the object
        // damaged only when the same bytes fail twice more: that takes three attempts, more
        // than this destination's max_attempts = 2 allows (it would say "unavailable").
        let broken = try walArchive(["verify", "--deep", "--max-attempts", "3"], destination)
        XCTAssertEqual(broken.status, 5, broken.standardOutput + broken.standardError)
        XCTAssertTrue(broken.standardOutput.contains("MISSING \(deleted)\n"), broken.standardOutput)
        XCTAssertTrue(broken.standardOutput.contains("DAMAGED \(newest) ("), broken.standardOutput)
    }

    func testPruneKeepingOneOfTwoRealBackupsLeavesAWorkingRecoveryFromIt() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-prune")
        let origin = try PostgresCluster.initialize(settings: try destination.archiveSettings)
        track(origin)
        try destination.initialize(for: origin)
        try origin.start()
        try origin.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
        _ = try origin.baseBackup(name: "first")
        for batch in 0..<3 {
            try origin.sql("INSERT INTO events SELECT g, 'between' FROM generate_series(\(batch * 1000 + 1), \(batch * 1000 + 1000)) AS g")
            try origin.switchWAL()
        }
        let second = try origin.baseBackup(name: "second")
        try origin.sql("INSERT INTO events SELECT g, 'after' FROM generate_series(10001, 12000) AS g")
        try origin.waitUntilArchived(try origin.switchWAL())
        try origin.stop()

        let backups = try XCTUnwrap(try json(try walArchive(["list", "--json"], destination))["backups"] as? [[String: Any]])
        XCTAssertEqual(backups.count, 2)
        let keepFrom = try XCTUnwrap(backups.last?["start_segment"] as? String)
        let firstBackupFile = try XCTUnwrap(backups.first?["file"] as? String)
        let before = try destination.listKeys()

        let plan = try walArchive(["prune", "--keep-backups", "1"], destination)
        XCTAssertEqual(plan.status, 0, plan.standardOutput + plan.standardError)
        XCTAssertTrue(plan.standardOutput.contains("the WAL from \(keepFrom) on"), plan.standardOutput)
        XCTAssertEqual(try destination.listKeys(), before, "prune without --confirm deleted something")
        let pruned = try walArchive(["prune", "--keep-backups", "1", "--confirm"], destination)
        XCTAssertEqual(pruned.status, 0, pruned.standardOutput + pruned.standardError)
        let after = try destination.listKeys()
        let name = { (key: String) in String(key.split(separator: "/").last ?? "") }
        let removed = Set(before).subtracting(after)
        XCTAssertFalse(removed.isEmpty)
        XCTAssertTrue(removed.allSatisfy { String(name($0).prefix(24)) < keepFrom }, "\(removed)")
        XCTAssertTrue(removed.contains { name($0).hasPrefix(firstBackupFile) }, "the first backup's .backup file stayed: \(after)")
        let isClaim = { (key: String) in key.hasPrefix(NameClaim.folder + "/") }
        let deletedNames = removed.filter { !isClaim($0) }.map { name($0).components(separatedBy: ".zst")[0] }
        XCTAssertEqual(Set(removed.filter(isClaim).map(name)), Set(deletedNames), "each deleted name's claim goes with it, and only those")
        XCTAssertFalse(after.contains { name($0).count >= 24 && String(name($0).prefix(24)) < keepFrom && !$0.hasPrefix("timelines/") },
                       "WAL older than the kept backup stayed: \(after)")
        XCTAssertTrue(after.contains("wal-archive.json") || !before.contains("wal-archive.json"))

        let restored = try PostgresCluster.restore(fromBaseBackup: second, settings: [
            "restore_command = \(try destination.restoreCommand())",
        ])
        track(restored)
        try restored.start()
        try restored.waitUntilPromoted()
        XCTAssertEqual(try rowsByPhase(restored), ["between": 3000, "after": 2000])
        XCTAssertEqual(try walArchive(["verify"], destination).status, 0)
    }
}
