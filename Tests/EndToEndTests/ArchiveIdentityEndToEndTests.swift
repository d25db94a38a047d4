import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// The archive identity from real data directories of the selected PostgreSQL major.
final class ArchiveIdentityEndToEndTests: ClusterTestCase {
    /// `pg_controldata`'s own reading of a field, e.g. "Database system identifier".
    private func controlData(_ cluster: PostgresCluster, _ field: String) throws -> String {
        let result = try cluster.runAsService(cluster.installation.binary("pg_controldata"), [cluster.dataDirectory.path],
                                              check: true)
        let line = try XCTUnwrap(result.standardOutput.split(separator: "\n").first { $0.hasPrefix(field + ":") }, result.standardOutput)
        return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
    }

    /// The pg_control reader agrees with pg_controldata on the system identifier and segment
    /// size, for several segment sizes, stopped and while the server runs.
    func testTheControlFileReaderAgreesWithPGControlData() throws {
        for megabytes in [1, 16, 64] {
            let cluster = try PostgresCluster.initialize(initdbOptions: ["--wal-segsize=\(megabytes)"])
            track(cluster)
            let directory = DataDirectory(path: cluster.dataDirectory.path)
            for running in [false, true] {
                if running { try cluster.start() }
                let control = try directory.controlFile()
                XCTAssertEqual(String(control.systemIdentifier), try controlData(cluster, "Database system identifier"))
                XCTAssertEqual(String(control.walSegmentSize.bytes), try controlData(cluster, "Bytes per WAL segment"))
                XCTAssertEqual(String(control.walBlockSize), try controlData(cluster, "WAL block size"))
                XCTAssertEqual(String(control.controlVersion), try controlData(cluster, "pg_control version number"))
                XCTAssertEqual(try directory.majorVersion(), cluster.installation.majorVersion)
                XCTAssertEqual(directory.systemIdentifier(), control.systemIdentifier)
            }
            cluster.destroy()
        }
    }

    /// `wal-archive init -D` as the operator runs it (user postgres, the server running), then
    /// `--wal-file` with one of the cluster's own segments finds the same system.
    func testInitFromARunningDataDirectoryAndFromOneOfItsSegments() throws {
        let folder = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-e2e-init")
        let archive = folder.appendingPathComponent("archive")
        XCTAssertTrue(try PostgresCluster.runAsService("/bin/mkdir", [archive.path]).succeeded)
        let cluster = try PostgresCluster.initialize()
        track(cluster)
        try cluster.start()
        let tool = try PostgresCluster.toolsDirectory().appendingPathComponent("wal-archive").path
        let environment = ["WAL_ARCHIVE_URL": "file://" + archive.path]
        let created = try cluster.runAsService(tool, ["init", "-D", cluster.dataDirectory.path], environment: environment)
        XCTAssertEqual(created.status, 0, created.standardError)
        let system = try controlData(cluster, "Database system identifier")
        let major = cluster.installation.majorVersion
        XCTAssertTrue(created.standardOutput.contains("for system \(system) (PostgreSQL \(major), 16 MiB WAL segments)"),
                      created.standardOutput)

        let segment = try cluster.switchWAL()
        let fromSegment = try cluster.runAsService(tool, ["init", "--wal-file", cluster.dataDirectory.path + "/pg_wal/" + segment],
                                                   environment: environment)
        XCTAssertEqual(fromSegment.status, 0, fromSegment.standardError)
        XCTAssertTrue(fromSegment.standardOutput.contains("already belongs to system \(system)"), fromSegment.standardOutput)

        let other = try PostgresCluster.initialize()
        track(other)
        let refused = try other.runAsService(tool, ["init", "-D", other.dataDirectory.path], environment: environment)
        XCTAssertEqual(refused.status, 4, refused.standardOutput)
        let otherSystem = try controlData(other, "Database system identifier")
        XCTAssertTrue(refused.standardError.contains(system) && refused.standardError.contains(otherSystem), refused.standardError)
    }
}
