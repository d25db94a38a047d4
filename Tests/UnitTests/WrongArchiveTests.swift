import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// A destination that is not the archive stops recovery loudly and is never written to: it is
/// never mistaken for an archive that lacks a file. Here the directory half: an unmounted share.
final class WrongArchiveTests: BuiltToolTestCase {
    /// `file:///mnt/wal` with the share not mounted: the mount point is an empty directory.
    /// `wal-fetch` stops recovery (255, also on a standby) naming the URL; `wal-push` fails
    /// (1, so PostgreSQL retries) naming the `wal-archive init` command, and writes nothing.
    func testAnEmptyMountPointIsNeitherReadAsAnEmptyArchiveNorWrittenTo() throws {
        let mountPoint = ["WAL_ARCHIVE_URL": "file://" + archive, "WAL_ARCHIVE_PUSH_AHEAD": "0"]
        let name = segmentName(timeline: 1, number: 0x91)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)

        for standby in [false, true] {
            if standby { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data())) }
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: mountPoint)
            XCTAssertEqual(fetch.status, 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: file://\(archive)/wal-archive.json has no archive identity")
        }
        try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal")

        let push = try run("wal-push", ["pg_wal/" + name], environment: mountPoint)
        XCTAssertEqual(push.status, 1, push.stderr)
        assertOneLine(push, "wal-push: file://\(archive)/wal-archive.json has no archive identity")
        let dataPath = try XCTUnwrap(FileOperations.absolutePath(dataDirectory))
        XCTAssertTrue(push.stderr.hasSuffix("create the identity once with: wal-archive init --url=file://\(archive) -D \(dataPath)\n"),
                      push.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: archive), [], "written into the mount point")
    }

    /// The share was mounted (archive initialised, segments pushed and fetched, the identity
    /// known), then is not any more: the same calls fail again, nothing trusts what was seen
    /// while it was mounted.
    func testAShareUnmountedAfterUseIsNotTrustedFromEarlierCalls() throws {
        let environment = ["WAL_ARCHIVE_URL": "file://" + archive, "WAL_ARCHIVE_PUSH_AHEAD": "0"]
        try TestArchives.initialize(environment: environment)
        let first = segmentName(timeline: 1, number: 0x95)
        _ = try TestSegments.writeSegment(name: first, in: walDirectory, segmentSize: 1 << 20)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + first], environment: environment).status, 0)
        XCTAssertEqual(try run("wal-fetch", [first, "pg_wal/RECOVERYXLOG"], environment: environment).status, 0)

        let share = archive + "-share"
        try FileManager.default.moveItem(atPath: archive, toPath: share)
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: false)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: share) }
        let second = segmentName(timeline: 1, number: 0x96)
        _ = try TestSegments.writeSegment(name: second, in: walDirectory, segmentSize: 1 << 20)
        let push = try run("wal-push", ["pg_wal/" + second], environment: environment)
        XCTAssertEqual(push.status, 1, push.stderr)
        XCTAssertEqual(try run("wal-fetch", [first, "pg_wal/RECOVERYXLOG"], environment: environment).status, 255)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: archive), [])
    }

    /// A server of another system than the archive's (its own pg_control says so) can push
    /// no history file (exit 4, they carry no system identifier of their own) and fetch nothing
    /// (255); the archive's own system can.
    func testAServerOfAnotherSystemCanNeitherPushHistoryNorFetch() throws {
        let environment = ["WAL_ARCHIVE_URL": "file://" + archive, "WAL_ARCHIVE_PUSH_AHEAD": "0"]
        try TestArchives.initialize(environment: environment)
        try FileManager.default.createDirectory(atPath: dataDirectory + "/global", withIntermediateDirectories: true)
        let history = "00000002.history"
        try "1\t0/3000000\tno recovery target specified\n".write(toFile: walDirectory + "/" + history, atomically: true, encoding: .utf8)
        let foreignSystem: UInt64 = 7_388_888_888_888_888_888
        for (system, pushStatus, fetchStatus) in [(foreignSystem, Int32(4), Int32(255)), (TestSegments.systemIdentifier, 0, 0)] {
            try Data(ControlFileTests.controlFile(systemIdentifier: system)).write(to: URL(fileURLWithPath: dataDirectory + "/global/pg_control"))
            let push = try run("wal-push", ["pg_wal/" + history], environment: environment)
            XCTAssertEqual(push.status, pushStatus, push.stderr)
            let fetch = try run("wal-fetch", [history, "pg_wal/RECOVERYHISTORY"], environment: environment)
            XCTAssertEqual(fetch.status, system == foreignSystem ? fetchStatus : 0, fetch.stderr)
            if system == foreignSystem {
                assertOneLine(push, "wal-push: this server (its pg_control), pushing \(history), belongs to system \(foreignSystem)")
                assertOneLine(fetch, "wal-fetch: this server is system \(foreignSystem)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYHISTORY"))
            }
        }
    }
}
