import Foundation
import TestSupport
import WALArchive
import XCTest

/// Two clusters, one prefix: a point-in-time recovery of cluster A never replays cluster B's WAL.
/// B's own pushes into A's archive are refused (exit 4: another system), and a segment of B put
/// there around wal-push (as an `aws s3 cp` would) stops A's recovery loudly instead of being
/// replayed; once it is removed, the same recovery completes with everything A archived.
final class OtherClusterTests: ClusterTestCase {
    func testARecoveryOfOneClusterNeverReplaysAnotherClustersWALFromTheSamePrefix() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-two-clusters")
        let history = try archiveHistory(to: destination, targetByLSN: false, track: track)
        let lastOfA = try WALFileName(parsing: history.lastSegment)

        // Cluster B, configured with the same archive: every push is refused as another system's.
        let other = try PostgresCluster.initialize(settings: try destination.archiveSettings)
        track(other)
        let tool = try PostgresCluster.toolsDirectory().appendingPathComponent("wal-archive").path
        let initB = try other.runAsService(tool, ["init", "--config", destination.configFile.path, "-D", other.dataDirectory.path])
        XCTAssertEqual(initB.status, 4, initB.standardOutput + initB.standardError)
        try other.start()
        try other.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
        var segmentOfB = ""
        while segmentOfB <= history.lastSegment {
            try other.sql("INSERT INTO events SELECT g, 'cluster B' FROM generate_series(1, 1000) AS g ON CONFLICT DO NOTHING")
            segmentOfB = try other.switchWAL()
        }
        XCTAssertTrue(PostgresCluster.poll(timeoutSeconds: 60) { ((try? other.archiverStatus())?.failedCount ?? 0) >= 1 },
                      other.serverLogTail())
        XCTAssertEqual(try other.archiverStatus().archivedCount, 0)
        let logOfB = other.serverLog()
        XCTAssertTrue(logOfB.contains("archive command failed with exit code 4"), logOfB)
        XCTAssertTrue(logOfB.contains("belongs to system"), logOfB)

        // Every archived segment is A's: one object per name, and its claim is A's content.
        let keys = try destination.listKeys()
        let segmentKeys = keys.filter { StorageLayout.isCalendarDate(Substring($0.prefix(10))) }
        XCTAssertEqual(Set(segmentKeys.map { FileOperations.baseName($0) }).count, segmentKeys.count, "\(segmentKeys)")

        // B's segment that A's recovery will ask for next (A never archived it), put into the
        // archive around wal-push, without metadata, on a later date.
        let nextOfA = try XCTUnwrap(lastOfA.nextSegment(segmentSize: .postgresDefault)).description
        let foreign = other.dataDirectory.appendingPathComponent("pg_wal/" + nextOfA)
        let foreignBytes = try Data(contentsOf: foreign)
        let server = try LocalS3Server.shared()
        let store = try S3Store(settings: server.settings())
        let prefix = String(destination.url.dropFirst("s3://\(server.bucket)/".count))
        let planted = prefix + "/2099-01-01/" + nextOfA
        try putBytes(store, key: planted, Array(foreignBytes))

        // A's recovery (replay everything: no target) reaches the planted segment and stops.
        let restored = try PostgresCluster.restore(fromBaseBackup: history.backup, settings: try destination.archiveSettings
            + ["restore_command = \(try destination.restoreCommand())"])
        track(restored)
        _ = try? restored.start()
        XCTAssertTrue(PostgresCluster.poll(timeoutSeconds: 120) { !restored.isRunning }, restored.serverLogTail())
        let log = restored.serverLog()
        XCTAssertTrue(log.contains("wal-fetch: ") && log.contains("holds WAL of system"), log)
        XCTAssertTrue(log.contains("could not restore file \"\(nextOfA)\" from archive: child process exited with exit code 255"), log)
        XCTAssertFalse(log.contains("selected new timeline ID"), log)
        XCTAssertFalse(log.contains("archive recovery complete"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored.dataDirectory.appendingPathComponent("pg_wal/" + nextOfA).path))

        // Without the foreign object the same recovery completes with everything A archived.
        try store.delete(key: planted)
        try restored.start()
        try restored.waitUntilPromoted()
        XCTAssertEqual(try rowsByPhase(restored), ["before": history.rowsBeforeTarget, "after": history.rowsAfterTarget])
    }
}
