import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The operators' library on a directory archive.
final class ArchiveOperationsTests: XCTestCase {
    private func scenarios() throws -> (ArchiveOperationsScenarios, String) {
        let root = try makeTemporaryDirectory(self, "archive")
        return (try ArchiveOperationsScenarios(test: self, destination: .directory(root: root)), root)
    }

    func testInventoryShowsTimelinesForkPointsBackupsRangesAndDates() throws {
        try scenarios().0.inventoryShowsTimelinesForkPointsBackupsRangesAndDates()
    }

    func testChainFollowsTheTimelineSwitchAndNamesAMissingSegment() throws {
        try scenarios().0.chainFollowsTheTimelineSwitchAndNamesAMissingSegment()
    }

    func testVerificationNamesSegmentsWithoutChecksumAndCorruptedOnes() throws {
        let (scenarios, root) = try scenarios()
        try scenarios.verificationNamesSegmentsWithoutChecksumAndCorruptedOnes { key in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: root + "/" + key))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size - 100)
            try handle.write(contentsOf: Data(repeating: 0xA5, count: 50))
            try handle.close()
        }
    }

    func testPruneKeepingOneBackupDeletesOnlyWALBeforeItsStart() throws {
        try scenarios().0.pruneKeepingOneBackupDeletesOnlyWALBeforeItsStart()
    }

    func testPruneBeforeADateNeverPassesTheOldestKeptBackup() throws {
        try scenarios().0.pruneBeforeADateNeverPassesTheOldestKeptBackup()
    }

    func testAClaimStaysWhileItsNameIsStillStored() throws {
        try scenarios().0.aClaimStaysWhileItsNameIsStillStored()
    }

    func testPruneRefusesAnArchiveWithoutBackups() throws {
        try scenarios().0.pruneRefusesAnArchiveWithoutBackups()
    }

    func testPruneHandlesABackupInTheLegacyFlatLayout() throws {
        try scenarios().0.pruneHandlesABackupInTheLegacyFlatLayout()
    }

    func testStatusCountsAndMetricsDescribeTheArchive() throws {
        try scenarios().0.statusCountsAndMetricsDescribeTheArchive()
    }

    func testPrometheusFileIsReplacedAtomicallyAndReadableByTheCollector() throws {
        let directory = try makeTemporaryDirectory(self, "textfile")
        let path = directory + "/wal_archive.prom"
        try PrometheusMetrics.unreachable(location: "file:///archive", time: UTCTime(secondsSinceEpoch: 5)).write(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, """
            # HELP wal_archive_up 1 if the last status run could read the archive, else 0
            # TYPE wal_archive_up gauge
            wal_archive_up{archive="file:///archive"} 0
            # HELP wal_archive_status_timestamp_seconds When the status run read the archive
            # TYPE wal_archive_status_timestamp_seconds gauge
            wal_archive_status_timestamp_seconds{archive="file:///archive"} 5

            """)
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o044, 0o044, "the collector (another user) must be able to read it")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["wal_archive.prom"])
    }

    func testListingTimesAndDeleteAnswersParse() throws {
        XCTAssertEqual(UTCTime(iso8601: "2026-11-28T07:00:01.000Z")?.secondsSinceEpoch, 1_795_849_201)
        XCTAssertEqual(UTCTime(iso8601: "1970-01-01T00:00:00Z")?.secondsSinceEpoch, 0)
        XCTAssertEqual(UTCTime(iso8601: "2024-02-29T23:59:59Z")?.calendarDate, "2024-02-29")
        XCTAssertNil(UTCTime(iso8601: "2026-13-01T00:00:00Z"))
        XCTAssertNil(UTCTime(iso8601: "2026-11-28 07:00:01Z"))
        let page = try ListObjectsPage(xml: Array("""
            <ListBucketResult><Contents><Key>a&amp;b</Key><LastModified>2026-11-28T07:00:01.000Z</LastModified>\
            <ETag>"x"</ETag><Size>123</Size></Contents><Contents><Key>c</Key><Size>0</Size></Contents>\
            <IsTruncated>false</IsTruncated></ListBucketResult>
            """.utf8))
        XCTAssertEqual(page.objects, [ListedObject(key: "a&b", size: 123, lastModified: UTCTime(secondsSinceEpoch: 1_795_849_201)),
                                      ListedObject(key: "c", size: 0, lastModified: nil)])
        let answer = try DeleteObjectsResult(xml: Array("""
            <DeleteResult><Error><Key>k1</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>
            """.utf8))
        XCTAssertEqual(answer.failures, [DeleteFailure(key: "k1", reason: "AccessDenied: Access Denied")])
        XCTAssertEqual(String(decoding: DeleteObjectsResult.request(keys: ["a<&>'\"b"]), as: UTF8.self),
                       "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                       + "<Quiet>true</Quiet><Object><Key>a&lt;&amp;&gt;&apos;&quot;b</Key></Object></Delete>")
        XCTAssertEqual(ContentMD5.header(for: Array("hello".utf8)), "XUFAKrxLKna5cZ2REBfFkg==")
    }
}

/// What each operation costs in requests: a function of the number of objects, not of the
/// number of date partitions (one listing without a delimiter covers every date).
final class ArchiveOperationsCostTests: XCTestCase {
    func testRequestsGrowWithObjectsAndNotWithDates() throws {
        let root = try makeTemporaryDirectory(self, "archive")
        let store = CountingObjectStore(DirectoryStore(root: root))
        let layout = StorageLayout(prefix: "")
        let segmentSize = try XCTUnwrap(WALSegmentSize(bytes: 16 << 20))
        let segments = 2_100
        let dates = 7
        // Objects stand in for segments: the listing, the chain and the plan read only names and
        // metadata (contents are only read by verify --deep: one GET each, not measured here).
        // Written as the directory store writes objects (its header, then the body), without
        // its fsyncs: thousands of them would make this test slow.
        let object = Data(("wal-archive object 1\nwal-compression: zstd\nwal-sha256: \(String(repeating: "a", count: 64))\n"
                           + "wal-size: \(16 << 20)\n\n.").utf8)
        for day in 0..<dates {
            try FileManager.default.createDirectory(atPath: root + "/" + calendarDate(dayOffset: day), withIntermediateDirectories: true)
        }
        for number in 1...segments {
            let name = try XCTUnwrap(WALFileName(timeline: 1, segmentNumber: UInt64(number), segmentSize: segmentSize))
            let key = layout.segmentKey(name: name.description, date: calendarDate(dayOffset: number * dates / (segments + 1)), suffix: ".zst")
            XCTAssertTrue(FileManager.default.createFile(atPath: root + "/" + key, contents: object))
        }
        let backup = try XCTUnwrap(WALFileName(timeline: 1, segmentNumber: 2_000, segmentSize: segmentSize))
        let workspace = try makeTemporaryDirectory(self, "backup")
        let backupFile = workspace + "/" + backup.description + ".00000028.backup"
        try Data(ArchiveOperationsScenarios.backupHistory(start: "7/D0000028", startSegment: backup, stop: "7/D0000100", label: "b"))
            .write(to: URL(fileURLWithPath: backupFile))
        try TestSegments.setModificationTime(backupFile, UTCTime(secondsSinceEpoch: 1_767_225_600 + 6 * 86_400))
        _ = try ArchiveOperation(store: store.base, storeIdentity: StoreIdentity(destination: .directory(root: root), prefix: ""),
                                 archiveIdentity: TestArchives.identity).archive(path: backupFile)

        store.resetCounts()
        let inventory = try ArchiveInventory.read(from: store, layout: layout, segmentSize: segmentSize, temporaryDirectory: workspace)
        XCTAssertEqual(inventory.usageByDate.count, dates)
        // list and status: ⌈objects / 1000⌉ LISTs and one GET per backup (and history) file.
        XCTAssertEqual(store.lists, 3)
        XCTAssertEqual(store.gets, 1)
        XCTAssertEqual(store.requests, 4)

        store.resetCounts()
        let chain = try WALChain(inventory: inventory, from: .oldest)
        XCTAssertEqual(try ChainVerification(store: store, inventory: inventory, temporaryDirectory: workspace)
                        .verify(chain, deep: false, systemIdentifier: nil), [])
        // verify: one HEAD per segment of the chain (2000…2100).
        XCTAssertEqual(store.heads, 101)
        XCTAssertEqual(store.requests, 101)

        store.resetCounts()
        let plan = try PrunePlan(inventory: inventory, rule: .keepBackups(1))
        XCTAssertEqual(plan.deletions.count, 1_999)
        XCTAssertEqual(try plan.execute(on: store), [])
        // prune --confirm: one batch delete per 1000 keys.
        XCTAssertEqual(store.batchDeletes, 2)
        XCTAssertEqual(store.requests, 2)
    }
}
