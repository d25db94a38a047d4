import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Exit codes and the one stderr line of the built executables, against a directory archive.
final class CommandLineTests: BuiltToolTestCase {
    func testHelpAndVersion() throws {
        for tool in ["wal-push", "wal-fetch"] {
            let help = try run(tool, ["--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.stdout.hasPrefix("Usage: \(tool) [options]"), help.stdout)
            XCTAssertEqual(help.stderr, "")
            let version = try run(tool, ["--version"])
            XCTAssertEqual(version.status, 0)
            XCTAssertEqual(version.stdout, "\(tool) (wal-archive) \(WALArchiveVersion.current)\n")
        }
    }

    func testUsageAndConfigurationErrors() throws {
        let pushWithoutPath = try run("wal-push", [], environment: directoryEnvironment)
        XCTAssertEqual(pushWithoutPath.status, 2)
        assertOneLine(pushWithoutPath, "wal-push: expected one argument")
        let fetchWithOneArgument = try run("wal-fetch", ["000000010000000000000001"], environment: directoryEnvironment)
        XCTAssertEqual(fetchWithOneArgument.status, 255)
        assertOneLine(fetchWithOneArgument, "wal-fetch: expected two arguments")
        let unknown = try run("wal-push", ["--bucket", "b", "pg_wal/x"], environment: directoryEnvironment)
        XCTAssertEqual(unknown.status, 2)
        assertOneLine(unknown, "wal-push: unknown option --bucket; see --help")

        let pushWithoutURL = try run("wal-push", ["pg_wal/000000010000000000000001"])
        XCTAssertEqual(pushWithoutURL.status, 2)
        assertOneLine(pushWithoutURL, "wal-push: WAL_ARCHIVE_URL is not set; set it (WAL_ARCHIVE_URL, --url,")
        let fetchWithoutURL = try run("wal-fetch", ["000000010000000000000001", "pg_wal/RECOVERYXLOG"])
        XCTAssertEqual(fetchWithoutURL.status, 255)
        assertOneLine(fetchWithoutURL, "wal-fetch: WAL_ARCHIVE_URL is not set")
        let secret = "do-not-print-this-secret"
        let missingKey = try run("wal-fetch", ["000000010000000000000001", "pg_wal/RECOVERYXLOG"],
                                 environment: ["WAL_ARCHIVE_URL": "s3://bucket", "AWS_SECRET_ACCESS_KEY": secret])
        XCTAssertEqual(missingKey.status, 255)
        assertOneLine(missingKey, "wal-fetch: AWS_ACCESS_KEY_ID is not set")
        XCTAssertFalse(missingKey.stderr.contains(secret))
    }

    func testBadFileNamesExit255() throws {
        for name in ["../000000010000000000000001", "garbage", "00000001000000000000000Z"] {
            let result = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
            XCTAssertEqual(result.status, 255, name)
            assertOneLine(result, "wal-fetch: \"\(name)\" is not a")
            XCTAssertTrue(result.stderr.hasSuffix("; check restore_command (it should be `wal-fetch %f %p`)\n"), result.stderr)
        }
    }

    func testPushAndFetchThroughTheDirectoryArchive() throws {
        try TestArchives.initialize(environment: directoryEnvironment)
        let name = segmentName(timeline: 1, number: 0x21)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let push = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/pg_wal/RECOVERYXLOG")), segment.bytes)

        let stored = try XCTUnwrap(FileManager.default.enumerator(atPath: archive)?.compactMap { $0 as? String }
            .first { $0.hasSuffix(name + ".zst") })
        let original = try Data(contentsOf: URL(fileURLWithPath: archive + "/" + stored))
        var damaged = original
        damaged[damaged.count - 100] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: archive + "/" + stored))
        try FileManager.default.removeItem(atPath: dataDirectory + "/pg_wal/RECOVERYXLOG")
        let corrupt = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(corrupt.status, 255)
        assertOneLine(corrupt, "wal-fetch: ")
        XCTAssertTrue(corrupt.stderr.contains(stored), corrupt.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal").sorted(), [".wal-archive", name])
        try original.write(to: URL(fileURLWithPath: archive + "/" + stored))

        let missing = try run("wal-fetch", [segmentName(timeline: 1, number: 0x22), "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(missing.status, 1)
        assertOneLine(missing, "wal-fetch: \(segmentName(timeline: 1, number: 0x22)) is not in the archive file://")
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
        let missingOnStandby = try run("wal-fetch", [segmentName(timeline: 1, number: 0x22), "pg_wal/RECOVERYXLOG"],
                                       environment: directoryEnvironment)
        try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal")
        XCTAssertEqual(missingOnStandby.status, 1)
        XCTAssertEqual(missingOnStandby.stdout + missingOnStandby.stderr, "", "a standby's expected miss stays out of the log")

        let modification = try FileOperations.modificationTime(segment.path)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", seed: 99)
        try TestSegments.setModificationTime(segment.path, modification)
        let conflict = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(conflict.status, 4)
        assertOneLine(conflict, "wal-push: a different file is already archived as ")

        let truncated = dataDirectory + "/pg_wal/" + segmentName(timeline: 1, number: 0x23)
        try Data(segment.bytes.prefix(1 << 20)).write(to: URL(fileURLWithPath: truncated))
        let refused = try run("wal-push", [truncated], environment: directoryEnvironment)
        XCTAssertEqual(refused.status, 3)
        assertOneLine(refused, "wal-push: ")
    }

    func testUnreachableArchiveIsFatalInRecoveryAndRetriedInStandby() throws {
        let unmounted = ["WAL_ARCHIVE_URL": "file://" + archive + "/not-mounted"]
        let unreachableS3 = ["WAL_ARCHIVE_URL": "s3://bucket/p", "WAL_ARCHIVE_ENDPOINT": "http://127.0.0.1:9",
                             "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
                             "WAL_ARCHIVE_RETRY_BUDGET": "2", "WAL_ARCHIVE_MAX_ATTEMPTS": "2", "WAL_ARCHIVE_CONNECT_TIMEOUT": "1"]
        let name = segmentName(timeline: 1, number: 0x30)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        for environment in [unmounted, unreachableS3] {
            let recovery = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(recovery.status, 255, recovery.stderr)
            assertOneLine(recovery, "wal-fetch: cannot fetch \(name): cannot access ")
            XCTAssertTrue(recovery.stderr.contains("storage unavailable"), recovery.stderr)
            let push = try run("wal-push", ["pg_wal/" + name], environment: environment)
            XCTAssertEqual(push.status, 1, push.stderr)
            assertOneLine(push, "wal-push: cannot store ")
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
            let standby = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(standby.status, 1, standby.stderr)
            try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/pg_wal/RECOVERYXLOG"))
        }
    }
}
