import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `wal-archive list`, `verify`, `prune`, `status` and `check`, the built executable, on a
/// directory archive built by the library scenarios (timelines 1 and 2, two base backups).
final class OperatorCommandsTests: BuiltToolTestCase {
    private func buildArchive() throws -> ArchiveOperationsScenarios {
        let identity = ArchiveIdentity(systemIdentifier: TestSegments.systemIdentifier, postgresMajorVersion: 15,
                                       walSegmentSize: ArchiveOperationsScenarios.segmentSize, created: "2026-11-28T07:00:00Z")
        try putBytes(DirectoryStore(root: archive), key: "wal-archive.json", identity.encoded)
        let scenarios = try ArchiveOperationsScenarios(test: self, destination: .directory(root: archive), prefix: "")
        try scenarios.buildArchive()
        return scenarios
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testEverySubcommandAnswersHelp() throws {
        for subcommand in ["check", "list", "verify", "prune", "status"] {
            let help = try run("wal-archive", [subcommand, "--help"])
            XCTAssertEqual(help.status, 0, help.stderr)
            XCTAssertTrue(help.stdout.hasPrefix("Usage: wal-archive \(subcommand) [options]"), help.stdout)
            XCTAssertTrue(help.stdout.contains("--url URL"), "shares wal-push's settings: \(help.stdout)")
        }
        let overview = try run("wal-archive", ["--help"])
        for subcommand in ["init", "check", "list", "verify", "prune", "status"] {
            XCTAssertTrue(overview.stdout.contains("  \(subcommand) "), overview.stdout)
        }
    }

    func testEverySubcommandRefusesAPositionalArgumentInOneLineAndChangesNothing() throws {
        let environment = directoryEnvironment.merging(["PGDATA": dataDirectory]) { $1 }
        for subcommand in OperatorCommand.subcommands.map({ $0.name }) {
            let result = try run("wal-archive", [subcommand, "stray"], environment: environment)
            XCTAssertEqual(result.status, 2, "\(subcommand): \(result.stderr)")
            assertOneLine(result, "wal-archive \(subcommand): unexpected argument \"stray\"; see --help")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: archive + "/wal-archive.json"), "init created the identity")
    }

    func testListShowsTimelinesGapsBackupsAndDates() throws {
        let scenarios = try buildArchive()
        try DirectoryStore(root: archive).delete(key: try XCTUnwrap(scenarios.inventory().files.first { $0.name == scenarios.name(1, 4) }).key)
        let list = try run("wal-archive", ["list"], environment: directoryEnvironment)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("2: forked from timeline 1 at 0/700100 (no recovery target specified)"), list.stdout)
        XCTAssertTrue(list.stdout.contains("timeline 1  GAP 000000010000000000000004 (1 missing)"), list.stdout)
        XCTAssertTrue(list.stdout.contains("\"backup B\"  start 0/500028 (000000010000000000000005)"), list.stdout)
        XCTAssertTrue(list.stdout.contains("Other objects (not WAL; never changed): notes/readme.txt"), list.stdout)
        let document = try json(try run("wal-archive", ["list", "--json"], environment: directoryEnvironment).stdout)
        let gaps = try XCTUnwrap(document["gaps"] as? [[String: Any]])
        XCTAssertEqual(gaps.map { $0["first"] as? String }, ["000000010000000000000004"])
        XCTAssertEqual((document["backups"] as? [[String: Any]])?.map { $0["label"] as? String }, ["backup A", "backup B"])
        XCTAssertEqual((document["dates"] as? [[String: Any]])?.count, 4)
        XCTAssertEqual((document["identity"] as? [String: Any])?["system_identifier"] as? String, String(TestSegments.systemIdentifier))
    }

    func testVerifyExitsZeroOnACompleteChainAndNamesWhatIsMissingOrDamaged() throws {
        let scenarios = try buildArchive()
        let good = try run("wal-archive", ["verify"], environment: directoryEnvironment)
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        XCTAssertTrue(good.stdout.contains("verify: complete: a recovery from 000000010000000000000002 finds every segment up to 00000002000000000000000A"),
                      good.stdout)
        XCTAssertEqual(try run("wal-archive", ["verify", "--deep"], environment: directoryEnvironment).status, 0)

        let inventory = try scenarios.inventory()
        try DirectoryStore(root: archive).delete(key: try XCTUnwrap(inventory.files.first { $0.name == scenarios.name(1, 4) }).key)
        let damaged = try XCTUnwrap(inventory.files.first { $0.name == scenarios.name(2, 9) })
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: archive + "/" + damaged.key))
        try handle.seek(toOffset: try handle.seekToEnd() - 100)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 50))
        try handle.close()
        let deep = try run("wal-archive", ["verify", "--deep"], environment: directoryEnvironment)
        XCTAssertEqual(deep.status, 5, deep.stdout + deep.stderr)
        XCTAssertTrue(deep.stdout.contains("MISSING 000000010000000000000004\n"), deep.stdout)
        XCTAssertTrue(deep.stdout.contains("DAMAGED 000000020000000000000009 ("), deep.stdout)
        XCTAssertTrue(deep.stdout.contains("would stop before 000000010000000000000004"), deep.stdout)
        // From backup B on, nothing is missing; shallow verification does not download, so the damage stays unseen.
        XCTAssertEqual(try run("wal-archive", ["verify", "--from", "backup B"], environment: directoryEnvironment).status, 0)
        XCTAssertEqual(try run("wal-archive", ["verify", "--from", "000000020000000000000009", "--deep"],
                               environment: directoryEnvironment).status, 5)
        XCTAssertEqual(try run("wal-archive", ["verify", "--from", "0/A00000"], environment: directoryEnvironment).status, 0)
        let unknown = try run("wal-archive", ["verify", "--from", "no such backup"], environment: directoryEnvironment)
        XCTAssertEqual(unknown.status, 5)
        XCTAssertTrue(unknown.stderr.contains("no base backup labelled or named \"no such backup\""), unknown.stderr)
    }

    func testPrunePrintsThePlanAndDeletesOnlyWithConfirm() throws {
        _ = try buildArchive()
        let keys = { try DirectoryStore(root: self.archive).listObjects(prefix: "", startAfter: nil, limit: 1000).map(\.key) }
        let before = try keys()
        let plan = try run("wal-archive", ["prune", "--keep-backups", "1"], environment: directoryEnvironment)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(plan.stdout.contains("keeping 1 base backup(s) and the WAL from 000000010000000000000005 on: \"backup B\""), plan.stdout)
        XCTAssertTrue(plan.stdout.contains("5 object(s)"), plan.stdout)
        XCTAssertTrue(plan.stdout.contains("nothing was deleted: run again with --confirm"), plan.stdout)
        XCTAssertEqual(try keys(), before)
        let confirmed = try run("wal-archive", ["prune", "--keep-backups", "1", "--confirm"], environment: directoryEnvironment)
        XCTAssertEqual(confirmed.status, 0, confirmed.stderr)
        XCTAssertTrue(confirmed.stdout.contains("deleted 5 object(s) and 5 name claim(s)"), confirmed.stdout)
        XCTAssertEqual(before.count - (try keys()).count, 10)
        XCTAssertTrue(try keys().contains("wal-archive.json"))
        let usage = try run("wal-archive", ["prune"], environment: directoryEnvironment)
        XCTAssertEqual(usage.status, 2)
        assertOneLine(usage, "wal-archive prune: give either --keep-backups N or --before YYYY-MM-DD")
    }

    /// `--before` through the command: the WAL of dates before the given one goes with its
    /// claims, never what the oldest kept backup needs; with no backup on or after the date the
    /// newest one is kept.
    func testPruneBeforeADateDeletesOlderDatesButNothingTheKeptBackupNeeds() throws {
        let scenarios = try buildArchive()
        let relative = { (name: WALFileName) in NameClaim.folder + "/" + name.description }
        let keys = { Set(try DirectoryStore(root: self.archive).listObjects(prefix: "", startAfter: nil, limit: 1000).map(\.key)) }
        let before = try keys()
        let byDay1 = try run("wal-archive", ["prune", "--before", ArchiveOperationsScenarios.days[1], "--confirm"],
                             environment: directoryEnvironment)
        XCTAssertEqual(byDay1.status, 0, byDay1.stderr)
        XCTAssertTrue(byDay1.stdout.contains("keeping 1 base backup(s) and the WAL from 000000010000000000000005 on: \"backup B\""),
                      byDay1.stdout)
        XCTAssertTrue(byDay1.stdout.contains("deleted 4 object(s) and 4 name claim(s)"), byDay1.stdout)
        let removed = before.subtracting(try keys())
        let backupA = try XCTUnwrap(WALFileName(parsing: scenarios.name(1, 2).description + ".00000028.backup"))
        let gone = [scenarios.name(1, 1), scenarios.name(1, 2), backupA, scenarios.name(1, 3)]
        XCTAssertEqual(removed.filter { $0.hasPrefix(NameClaim.folder + "/") }, Set(gone.map(relative)))
        XCTAssertEqual(Set(removed.filter { !$0.hasPrefix(NameClaim.folder + "/") }.map { FileOperations.baseName($0) }),
                       Set(gone.map { $0.description + ".zst" }))
        XCTAssertTrue(try keys().contains(relative(scenarios.name(1, 4))), "segment 4 is dated on the day given: kept")

        // No backup on or after the last day: backup B, the newest, is kept with all it needs.
        let byDay3 = try run("wal-archive", ["prune", "--before", ArchiveOperationsScenarios.days[3], "--confirm"],
                             environment: directoryEnvironment)
        XCTAssertEqual(byDay3.status, 0, byDay3.stderr)
        XCTAssertTrue(byDay3.stdout.contains("deleted 1 object(s) and 1 name claim(s)"), byDay3.stdout)
        XCTAssertEqual(try WALChain(inventory: scenarios.inventory(), from: .oldest).missing, [])
        XCTAssertEqual(try run("wal-archive", ["verify"], environment: directoryEnvironment).status, 0)
    }

    /// A prune interrupted after deleting the data and before the claims: the next prune
    /// deletes the claims it left, though no WAL is left to delete.
    func testPruneDeletesTheClaimsAnInterruptedPruneLeft() throws {
        let scenarios = try buildArchive()
        let plan = try PrunePlan(inventory: scenarios.inventory(), rule: .keepBackups(1))
        XCTAssertEqual(try DirectoryStore(root: archive).delete(keys: plan.deletions.map(\.key)), [])
        let confirmed = try run("wal-archive", ["prune", "--keep-backups", "1", "--confirm"], environment: directoryEnvironment)
        XCTAssertEqual(confirmed.status, 0, confirmed.stderr)
        XCTAssertTrue(confirmed.stdout.contains("deleted 0 object(s) and 5 name claim(s)"), confirmed.stdout)
        let left = try DirectoryStore(root: archive).listObjects(prefix: "", startAfter: nil, limit: 1000).map(\.key)
        for claim in plan.claimDeletions { XCTAssertFalse(left.contains(claim), claim) }
    }

    func testStatusPrintsTheNewestSegmentAndWritesMetrics() throws {
        _ = try buildArchive()
        let metrics = dataDirectory + "/wal_archive.prom"
        let status = try run("wal-archive", ["status", "--prometheus", metrics], environment: directoryEnvironment)
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("newest segment   00000002000000000000000A  stored "), status.stdout)
        XCTAssertTrue(status.stdout.contains("missing          0 segment(s)"), status.stdout)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        XCTAssertTrue(text.contains("wal_archive_segments{archive=\"file://\(archive)\"} 12\n"), text)
        let document = try json(try run("wal-archive", ["status", "--json"], environment: directoryEnvironment).stdout)
        XCTAssertEqual((document["newest_segment"] as? [String: Any])?["name"] as? String, "00000002000000000000000A")
        XCTAssertEqual(document["missing_segments"] as? Int, 0)

        // An archive that cannot be read: the metrics say so, for the alert.
        let unreadable = try run("wal-archive", ["status", "--prometheus", metrics], environment: ["WAL_ARCHIVE_URL": "file:///nonexistent/archive"])
        XCTAssertEqual(unreadable.status, 1)
        XCTAssertTrue(try String(contentsOfFile: metrics, encoding: .utf8).contains("wal_archive_up{archive=\"file:///nonexistent/archive\"} 0\n"))
    }

    func testCheckPassesOnAnInitialisedDirectoryAndNamesAMissingIdentity() throws {
        let missing = try run("wal-archive", ["check"], environment: directoryEnvironment)
        XCTAssertEqual(missing.status, 5, missing.stdout)
        XCTAssertTrue(missing.stdout.contains("PROBLEM  no archive identity at file://\(archive)/wal-archive.json"), missing.stdout)
        XCTAssertTrue(missing.stdout.contains("wal-archive init"), missing.stdout)
        _ = try buildArchive()
        let before = try DirectoryStore(root: archive).listObjects(prefix: "", startAfter: nil, limit: 1000)
        let good = try run("wal-archive", ["check"], environment: directoryEnvironment)
        XCTAssertEqual(good.status, 0, good.stdout)
        XCTAssertTrue(good.stdout.contains("ok       can write"), good.stdout)
        XCTAssertTrue(good.stdout.hasSuffix("check: all is well\n"), good.stdout)
        XCTAssertEqual(try DirectoryStore(root: archive).listObjects(prefix: "", startAfter: nil, limit: 1000), before,
                       "check changed the archive")
    }
}
