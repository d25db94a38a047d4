import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The operators' library through `S3Store` against the signature-checking local S3 server:
/// listings with sizes and times, DeleteObjects, and every scenario of the unit tier.
final class ArchiveOperationsS3Tests: XCTestCase {
    private var server: LocalS3Server!

    override func setUpWithError() throws {
        server = try LocalS3Server.shared()
    }

    private func scenarios() throws -> ArchiveOperationsScenarios {
        try ArchiveOperationsScenarios(test: self, destination: .s3(server.settings()),
                                       prefix: String(server.uniquePrefix("operations").dropLast()))
    }

    func testInventoryShowsTimelinesForkPointsBackupsRangesAndDates() throws {
        try scenarios().inventoryShowsTimelinesForkPointsBackupsRangesAndDates()
    }

    func testChainFollowsTheTimelineSwitchAndNamesAMissingSegment() throws {
        try scenarios().chainFollowsTheTimelineSwitchAndNamesAMissingSegment()
    }

    func testVerificationNamesSegmentsWithoutChecksumAndCorruptedOnes() throws {
        let scenarios = try scenarios()
        let store = scenarios.store.base
        try scenarios.verificationNamesSegmentsWithoutChecksumAndCorruptedOnes { key in
            let original = CollectingSink()
            let info = try store.get(key: key, into: original)
            var damaged = original.bytes
            for index in (damaged.count - 100)..<(damaged.count - 50) { damaged[index] ^= 0xA5 }
            try putBytes(store, key: key, damaged, metadata: info.metadata)
        }
    }

    func testPruneKeepingOneBackupDeletesOnlyWALBeforeItsStart() throws {
        try scenarios().pruneKeepingOneBackupDeletesOnlyWALBeforeItsStart()
    }

    func testPruneBeforeADateNeverPassesTheOldestKeptBackup() throws {
        try scenarios().pruneBeforeADateNeverPassesTheOldestKeptBackup()
    }

    func testAClaimStaysWhileItsNameIsStillStored() throws {
        try scenarios().aClaimStaysWhileItsNameIsStillStored()
    }

    func testPruneHandlesABackupInTheLegacyFlatLayout() throws {
        try scenarios().pruneHandlesABackupInTheLegacyFlatLayout()
    }

    func testStatusCountsAndMetricsDescribeTheArchive() throws {
        try scenarios().statusCountsAndMetricsDescribeTheArchive()
    }

    func testListingGivesSizesAndTimesAndPagesThroughStartAfter() throws {
        let store = try S3Store(settings: server.settings())
        let prefix = server.uniquePrefix("listing")
        let before = UTCTime.now()
        for (index, size) in [3, 0, 1000].enumerated() {
            try putBytes(store, key: prefix + "k\(index)", Array(repeating: 7, count: size))
        }
        let objects = try store.listObjects(prefix: prefix, startAfter: nil, limit: 1000)
        XCTAssertEqual(objects.map(\.key), ["k0", "k1", "k2"].map { prefix + $0 })
        XCTAssertEqual(objects.map(\.size), [3, 0, 1000])
        for object in objects {
            // The server's clock and ours are the same machine's; a second of rounding either way.
            let time = try XCTUnwrap(object.lastModified, "no LastModified for \(object.key)")
            XCTAssertGreaterThanOrEqual(time.secondsSinceEpoch, before.secondsSinceEpoch - 1)
            XCTAssertLessThanOrEqual(time.secondsSinceEpoch, UTCTime.now().secondsSinceEpoch + 1)
        }
        XCTAssertEqual(try store.listObjects(prefix: prefix, startAfter: prefix + "k0", limit: 1).map(\.key), [prefix + "k1"])
    }

    func testBatchDeleteRemovesEveryKeyInBatchesAndIgnoresAbsentOnes() throws {
        let store = try S3Store(settings: server.settings())
        store.deleteBatchSize = 2
        let prefix = server.uniquePrefix("batch-delete")
        let keys = ["a", "b & c", "d<e>", "f"].map { prefix + $0 }
        for key in keys { try putBytes(store, key: key, [1, 2, 3]) }
        try putBytes(store, key: prefix + "kept", [4])
        XCTAssertEqual(try store.delete(keys: keys + [prefix + "never-there"]), [])
        XCTAssertEqual(try store.listObjects(prefix: prefix, startAfter: nil, limit: 1000).map(\.key), [prefix + "kept"])
    }

    func testBatchDeleteWithTheWrongSecretIsRefusedAndDeletesNothing() throws {
        let prefix = server.uniquePrefix("batch-delete-denied")
        let store = try S3Store(settings: server.settings())
        try putBytes(store, key: prefix + "a", [1])
        let wrong = S3Settings.Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "not-the-secret")
        let denied = try S3Store(settings: server.settings(credentials: wrong))
        XCTAssertThrowsError(try denied.delete(keys: [prefix + "a"])) { error in
            guard case .accessDenied? = error as? StorageError else { return XCTFail("\(error)") }
        }
        XCTAssertNotNil(try store.head(key: prefix + "a"))
    }
}
