import Foundation
import TestSupport
import WALArchive
import XCTest

/// The test PostgreSQL fixture itself: other suites rely on the WAL it produces being real.
final class PostgresClusterTests: XCTestCase {
    /// Also what the selected PostgreSQL writes now passes the validator, so the committed
    /// segment of the unit tests (Tests/UnitTests/Fixtures/wal) cannot go stale unnoticed.
    func testCompletedSegmentsAreRealWALOfTheRequestedSizeAndPassValidation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("segments-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let segments = try PostgresCluster.makeCompletedWALSegments(count: 3, walSegmentSizeMB: 1, into: directory)

        XCTAssertEqual(segments.count, 3)
        for segment in segments {
            let name = segment.lastPathComponent
            XCTAssertEqual(name.count, 24)
            XCTAssertTrue(name.hasPrefix("00000001"), name)
            let data = try Data(contentsOf: segment)
            XCTAssertEqual(data.count, 1024 * 1024)
            // Long page header: the major's xlp_magic, xlp_info has XLP_LONG_HEADER (0x0002).
            XCTAssertEqual(UInt16(data[0]) | UInt16(data[1]) << 8,
                           WALPageMagic.magic(ofMajorVersion: try PostgresInstallation.selected().majorVersion))
            XCTAssertEqual(data[2] & 0x02, 0x02)
            let validated = try WALFileValidator.validate(path: segment.path, as: WALFileName(parsing: name))
            XCTAssertEqual(validated.postgresMajorVersion, try PostgresInstallation.selected().majorVersion)
            XCTAssertEqual(validated.header?.segmentSize, 1 << 20)
            XCTAssertEqual(validated.header?.timeline, 1)
        }
        let names = segments.map(\.lastPathComponent)
        XCTAssertEqual(names, names.sorted())
    }

    func testDestroyStopsTheServerAndRemovesItsFiles() throws {
        let cluster = try PostgresCluster.initialize()
        try cluster.start()
        XCTAssertEqual(try cluster.sql("SELECT 40 + 2"), "42")
        XCTAssertTrue(cluster.isRunning)
        cluster.destroy()
        XCTAssertFalse(cluster.isRunning)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.root.path))
    }
}
