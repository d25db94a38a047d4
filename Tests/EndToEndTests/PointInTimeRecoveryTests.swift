import Foundation
import TestSupport
import WALArchive
import XCTest

/// A real PostgreSQL (15, 17 or 18: `scripts/run-tests --pg N`) archives through `wal-push` and recovers to a
/// point in time through `wal-fetch`, against the signature-checking local S3 and a directory.
final class PointInTimeRecoveryTests: ClusterTestCase {
    private func recoverySettings(_ destination: ArchiveDestination, _ extra: [String],
                                  restoreConfig: URL? = nil) throws -> [String] {
        try destination.archiveSettings + ["restore_command = \(try destination.restoreCommand(configFile: restoreConfig))"]
            + extra
    }

    /// Steps 1–3: archive, recover to a time, promote (timeline 2), archive more, then recover the
    /// latest timeline from the same base backup.
    func testArchiveRecoverToATimeAndFollowTheNewTimelineOverS3() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-pitr")
        let history = try archiveHistory(to: destination, targetByLSN: false, track: track)
        let keys = try destination.listKeys()
        assertArchived(history.lastSegment, in: keys)
        XCTAssertTrue(keys.contains { $0.hasSuffix(".backup.zst") }, "backup history file missing: \(keys)")

        // Step 2: point-in-time recovery into a new directory.
        let restored = try recoverAndPromote(history, settings: try recoverySettings(
            destination, [history.target.setting, "recovery_target_action = 'promote'"]), track: track)
        XCTAssertEqual(try rowsByPhase(restored), ["before": history.rowsBeforeTarget])
        let log = restored.serverLog()
        XCTAssertTrue(log.contains("restored log file \"00000001") && log.contains("from archive"), log)
        XCTAssertTrue(log.contains("recovery stopping before commit of transaction"), log)

        // Step 3: the restored server is timeline 2; what it writes is archived, history file undated.
        XCTAssertEqual(try restored.currentTimeline(), 2)
        try restored.sql("INSERT INTO events SELECT g, 'timeline 2' FROM generate_series(7001, 7500) AS g")
        let timelineTwoSegment = try restored.switchWAL()
        XCTAssertTrue(timelineTwoSegment.hasPrefix("00000002"), timelineTwoSegment)
        try restored.waitUntilArchived(timelineTwoSegment)
        XCTAssertEqual(try restored.archiverStatus().failedCount, 0, restored.serverLogTail())
        let keysAfterPromotion = try destination.listKeys()
        XCTAssertTrue(keysAfterPromotion.contains("timelines/00000002.history"), "\(keysAfterPromotion)")
        assertArchived(timelineTwoSegment, in: keysAfterPromotion)
        try restored.stop()

        let latest = try recoverAndPromote(history, settings: try recoverySettings(
            destination, ["recovery_target_timeline = 'latest'"]), track: track)
        XCTAssertEqual(try rowsByPhase(latest), ["before": history.rowsBeforeTarget, "timeline 2": 500])
        XCTAssertEqual(try latest.currentTimeline(), 3)
    }

    /// Client-side encryption on: PostgreSQL archives through an encrypted archive (every object
    /// our AES-256-GCM stream, metadata naming the key), and point-in-time recovery through
    /// wal-fetch (decrypting) stops at the target with exactly the rows before it.
    func testArchiveAndRecoverToATimeThroughAnEncryptedArchive() throws {
        let keyHex = (0..<32).map { String(format: "%02x", ($0 * 29 + 5) & 0xff) }.joined()
        let destination = try ArchiveDestination.localS3(label: "e2e-encrypted", encryptionKeyHex: keyHex)
        let history = try archiveHistory(to: destination, targetByLSN: false, track: track)
        let keys = try destination.listKeys()
        assertArchived(history.lastSegment, in: keys)
        let server = try LocalS3Server.shared()
        let store = try S3Store(settings: server.settings())
        let prefix = String(destination.url.dropFirst("s3://\(server.bucket)/".count))
        let dataKeys = keys.filter { !$0.hasPrefix("names/") && $0 != "wal-archive.json" }
        XCTAssertFalse(dataKeys.isEmpty)
        for key in dataKeys {
            let info = try XCTUnwrap(try store.head(key: prefix + "/" + key), key)
            XCTAssertEqual(info.metadata["wal-encryption"], "aes-256-gcm", key)
        }
        let identity = try XCTUnwrap(try ArchiveIdentityObject.read(from: store, layout: StorageLayout(prefix: prefix),
                                                                    storeIdentity: StoreIdentity(destination: .s3(server.settings()),
                                                                                                 prefix: prefix)))
        XCTAssertEqual(identity.encryptionKeyIDs?.count, 1)

        let restored = try recoverAndPromote(history, settings: try recoverySettings(
            destination, [history.target.setting, "recovery_target_action = 'promote'"]), track: track)
        XCTAssertEqual(try rowsByPhase(restored), ["before": history.rowsBeforeTarget])
        XCTAssertTrue(restored.serverLog().contains("recovery stopping before commit of transaction"), restored.serverLog())
        XCTAssertFalse(restored.serverLog().contains(keyHex), "the key in the server log")
    }

    /// The same archive and point-in-time recovery through the `file://` directory backend, with
    /// 1 MiB segments and an LSN target.
    func testArchiveAndRecoverToAnLSNThroughADirectory() throws {
        let destination = try ArchiveDestination.directory()
        let history = try archiveHistory(to: destination, initdbOptions: ["--wal-segsize=1"], targetByLSN: true,
                                         track: track)
        assertArchived(history.lastSegment, in: try destination.listKeys())

        let restored = try recoverAndPromote(history, settings: try recoverySettings(
            destination, [history.target.setting, "recovery_target_action = 'promote'"]), track: track)
        XCTAssertEqual(try rowsByPhase(restored), ["before": history.rowsBeforeTarget])
        XCTAssertTrue(restored.serverLog().contains("recovery stopping after WAL location (LSN)"), restored.serverLog())
    }

    /// postgres-conf/standby.conf: a standby fed only from the archive replays what the primary
    /// archives, and waits (wal-fetch exit 1) rather than failing while the next segment is absent.
    func testStandbyFollowsTheArchive() throws {
        let destination = try ArchiveDestination.directory()
        let history = try archiveHistory(to: destination, initdbOptions: ["--wal-segsize=1"], targetByLSN: true,
                                         track: track)
        let standby = try PostgresCluster.restore(fromBaseBackup: history.backup, settings: [
            "restore_command = \(try destination.restoreCommand())",
            "recovery_target_timeline = 'latest'",
            "hot_standby = on",
            "wal_retrieve_retry_interval = '200ms'",
        ], mode: .standby)
        track(standby)
        try standby.start()
        let total = history.rowsBeforeTarget + history.rowsAfterTarget
        XCTAssertTrue(PostgresCluster.poll(timeoutSeconds: 60) {
            (try? standby.sql("SELECT count(*) FROM events")) == "\(total)"
        }, standby.serverLogTail())

        try history.origin.sql("INSERT INTO events SELECT g, 'later' FROM generate_series(6001, 6500) AS g")
        try history.origin.waitUntilArchived(try history.origin.switchWAL())
        XCTAssertTrue(PostgresCluster.poll(timeoutSeconds: 60) {
            (try? standby.sql("SELECT count(*) FROM events WHERE phase = 'later'")) == "500"
        }, standby.serverLogTail())
        XCTAssertEqual(try standby.sql("SELECT pg_is_in_recovery()"), "t")
        XCTAssertFalse(standby.serverLog().contains("FATAL"), standby.serverLogTail())
    }

    /// Step 4, first half: wrong credentials stop archive recovery loudly (exit 255: FATAL, no
    /// promotion, our one line in the log, no secret); with the right ones the same directory
    /// recovers everything: nothing was lost.
    func testWrongCredentialsStopRecoveryAndARetryWithTheRightOnesLosesNothing() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-credentials")
        let history = try archiveHistory(to: destination, targetByLSN: false, track: track)
        try history.origin.stop()
        let wrongSecret = "wrongSecretKeyForTheEndToEndTests0000000"
        let wrongCredentials = try destination.writeVariant("wrong-credentials.conf",
                                                            replacing: ["secret_access_key": wrongSecret])

        let restored = try PostgresCluster.restore(fromBaseBackup: history.backup, settings: try recoverySettings(
            destination, [], restoreConfig: wrongCredentials))
        track(restored)
        XCTAssertThrowsError(try restored.start())
        XCTAssertFalse(restored.isRunning, restored.serverLogTail())
        let log = restored.serverLog()
        let ourLines = log.split(separator: "\n").filter { $0.hasPrefix("wal-fetch: ") }
        XCTAssertFalse(ourLines.isEmpty, log)
        XCTAssertTrue(log.contains("FATAL:  could not restore file"), log)
        // Any exit status above 125 is fatal to recovery; 255 keeps PostgreSQL's log line plain
        // (126 and 127 would be worded "command not executable" / "command not found").
        XCTAssertTrue(log.contains("from archive: child process exited with exit code 255"), log)
        XCTAssertFalse(log.contains("archive recovery complete"), log)
        XCTAssertFalse(log.contains("selected new timeline ID"), log)
        XCTAssertFalse(log.contains(wrongSecret), "secret leaked into the log")
        XCTAssertTrue(FileManager.default.fileExists(
            atPath: restored.dataDirectory.appendingPathComponent("recovery.signal").path))

        try restored.appendSettings(["restore_command = \(try destination.restoreCommand())"])
        try restored.start()
        try restored.waitUntilPromoted()
        XCTAssertEqual(try rowsByPhase(restored), ["before": history.rowsBeforeTarget, "after": history.rowsAfterTarget])
    }

    /// Step 4, second half: with the archive unreachable `wal-push` fails (exit 1), PostgreSQL keeps
    /// the segment (`.ready` in pg_wal) and archives it once the archive is back.
    func testUnreachableArchiveKeepsTheSegmentUntilItIsBack() throws {
        let destination = try ArchiveDestination.localS3(label: "e2e-unreachable")
        let closedPort = try Self.closedLocalPort()
        let unreachable = try destination.writeVariant("unreachable.conf", replacing: [
            "endpoint": "http://127.0.0.1:\(closedPort)", "connect_timeout": "1", "retry_budget": "1",
        ])
        let pushToUnreachable = "'\(try PostgresCluster.toolsDirectory().path)/wal-push --config \(unreachable.path) %p'"
        let origin = try PostgresCluster.initialize(settings: ["archive_mode = on", "archive_command = \(pushToUnreachable)"])
        track(origin)
        try destination.initialize(for: origin)
        try origin.start()
        try origin.sql("CREATE TABLE events (id integer PRIMARY KEY, phase text NOT NULL)")
        try origin.sql("INSERT INTO events SELECT g, 'kept' FROM generate_series(1, 2000) AS g")
        let kept = try origin.switchWAL()

        let failed = PostgresCluster.poll(timeoutSeconds: 60) {
            ((try? origin.archiverStatus())?.failedCount ?? 0) >= 1
        }
        XCTAssertTrue(failed, origin.serverLogTail())
        let status = try origin.archiverStatus()
        XCTAssertEqual(status.archivedCount, 0)
        XCTAssertTrue(origin.filesWaitingForArchive().contains(kept), "\(origin.filesWaitingForArchive())")
        XCTAssertTrue(FileManager.default.fileExists(atPath: origin.dataDirectory.appendingPathComponent("pg_wal/\(kept)").path))
        let log = origin.serverLog()
        XCTAssertTrue(log.contains("archive command failed with exit code 1"), log)
        XCTAssertTrue(log.split(separator: "\n").contains { $0.hasPrefix("wal-push: ") }, log)
        XCTAssertFalse(try destination.listKeys().contains { $0.contains(kept) })

        // The archive is back: the same archive_command now reaches it.
        try PostgresCluster.writeServiceFile(try String(contentsOf: destination.configFile, encoding: .utf8), to: unreachable)
        try origin.sql("INSERT INTO events SELECT g, 'later' FROM generate_series(2001, 3000) AS g")
        let later = try origin.switchWAL()
        try origin.waitUntilArchived(later)
        let keys = try destination.listKeys()
        assertArchived(kept, in: keys)
        assertArchived(later, in: keys)
        XCTAssertTrue(origin.filesWaitingForArchive().isEmpty)
    }

    /// A TCP port on 127.0.0.1 with nothing listening (bound, then released).
    private static func closedLocalPort() throws -> Int {
        let (probe, port) = try LoopbackSocket.bind()
        close(probe)
        return Int(port)
    }
}
