import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `wal-archive init`, the built executable, on a directory archive.
final class ArchiveInitTests: ArchiveInitTestCase {
    func testInitCreatesTheIdentityOnceAndRefusesAnotherSystemInADirectory() throws {
        try createOnceThenAgainThenRefuseAnother(["WAL_ARCHIVE_URL": "file://" + archive], url: "file://" + archive)
    }

    func testUsageErrorsHelpAndBadSources() throws {
        let environment = ["WAL_ARCHIVE_URL": "file://" + archive]
        let none = try run("wal-archive", [], environment: environment)
        XCTAssertEqual(none.status, 2)
        assertOneLine(none, "wal-archive: expected a subcommand")
        let unknown = try run("wal-archive", ["frobnicate"], environment: environment)
        XCTAssertEqual(unknown.status, 2)
        assertOneLine(unknown, "wal-archive: unknown subcommand \"frobnicate\"")
        let both = try run("wal-archive", ["init", "-D", "/x", "--wal-file", "/y"], environment: environment)
        XCTAssertEqual(both.status, 2)
        assertOneLine(both, "wal-archive init: give either -D DATADIR")
        let neither = try run("wal-archive", ["init"], environment: environment)
        XCTAssertEqual(neither.status, 2)
        let notWAL = dataDirectory + "/000000010000000000000001"
        try Data(repeating: 0, count: 1 << 20).write(to: URL(fileURLWithPath: notWAL))
        let zeros = try run("wal-archive", ["init", "--wal-file", notWAL], environment: environment)
        XCTAssertEqual(zeros.status, 3)
        assertOneLine(zeros, "wal-archive init: \(notWAL) is not a WAL segment")
        let notADataDirectory = try run("wal-archive", ["init", "-D", dataDirectory], environment: environment)
        XCTAssertEqual(notADataDirectory.status, 3)
        assertOneLine(notADataDirectory, "wal-archive init: cannot read \(dataDirectory)/PG_VERSION")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: archive), [])

        let help = try run("wal-archive", ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("\n  init "), help.stdout)
        let initHelp = try run("wal-archive", ["init", "--help"])
        XCTAssertEqual(initHelp.status, 0)
        XCTAssertTrue(initHelp.stdout.hasPrefix("Usage: wal-archive init [options] -D DATADIR"), initHelp.stdout)
        XCTAssertEqual(try run("wal-archive", ["--version"]).stdout, "wal-archive (wal-archive) \(WALArchiveVersion.current)\n")
    }

    /// The archive directory is never created: init into an unmounted share fails loudly.
    func testInitNeverCreatesTheArchiveDirectory() throws {
        let missing = archive + "/not-mounted"
        let result = try run("wal-archive", ["init", "--wal-file", try segment(of: TestSegments.systemIdentifier)],
                             environment: ["WAL_ARCHIVE_URL": "file://" + missing])
        XCTAssertEqual(result.status, 1)
        assertOneLine(result, "wal-archive init: cannot access file://\(missing)/wal-archive.json: storage unavailable")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }
}
