import Foundation
import TestSupport
import WALArchive
import XCTest

/// Every PostgreSQL major CI tests writes WAL that `wal-push` recognises: the page magic read
/// from each server's own segments is the one WALPageMagic lists for that major.
final class PostgresMajorVersionTests: XCTestCase {
    /// XLOG_PAGE_MAGIC as read from real segments of each tested major (15.x, 17.10, 18.6).
    private let magicReadFromTheServers: [Int: UInt16] = [15: 0xD110, 17: 0xD116, 18: 0xD118]

    func testEveryTestedMajorWritesTheWALPageMagicTheValidatorExpects() throws {
        XCTAssertEqual(Set(magicReadFromTheServers.keys), Set(PostgresInstallation.testedMajorVersions))
        for major in PostgresInstallation.testedMajorVersions {
            let installation = try PostgresInstallation.find(majorVersion: major)
            let directory = try makeTemporaryDirectory(self, "wal-magic-\(major)")
            let segment = try XCTUnwrap(PostgresCluster.makeCompletedWALSegments(
                count: 1, walSegmentSizeMB: 1, into: URL(fileURLWithPath: directory), installation: installation).first)
            let bytes = try Data(contentsOf: segment)
            let magic = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            XCTAssertEqual(magic, magicReadFromTheServers[major], "\(installation)")
            XCTAssertEqual(WALPageMagic.magic(ofMajorVersion: major), magic, "\(installation)")

            let name = try WALFileName(parsing: segment.lastPathComponent)
            let validated = try WALFileValidator.validate(path: segment.path, as: name)
            XCTAssertEqual(validated.postgresMajorVersion, major, "\(installation)")
            XCTAssertEqual(validated.header?.segmentSize, 1 << 20)
        }
    }

    /// The end-to-end tier runs on the major it was asked for, not silently on another one.
    func testTheSelectedInstallationIsTheRequestedMajor() throws {
        let installation = try PostgresInstallation.selected()
        let cluster = try PostgresCluster.initialize()
        defer { cluster.destroy() }
        try cluster.start()
        let serverMajor = try cluster.sql("SELECT current_setting('server_version_num')::int / 10000")
        XCTAssertEqual(serverMajor, String(installation.majorVersion))
        if let requested = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_PG"], !requested.isEmpty {
            XCTAssertEqual(String(installation.majorVersion), requested)
        }
    }
}
