import Foundation
import XCTest
import WALArchive

/// The operators' library (inventory, chain, verification, prune, status) against any store;
/// run on a directory (unit tier) and on local S3 (S3 tier).
///
/// The archive it builds, 1 MiB segments (a size PostgreSQL allows), four date partitions:
/// - timeline 1: segments 1…8; base backup A starts (and stops) in segment 2, backup B in 5;
/// - timeline 2 forks from timeline 1 at 0/700100, inside segment 7: segments 7…10 of
///   timeline 2 (timeline 1 went on to 8, as an old primary does);
/// - the archive identity's key and an object of another tool, neither of them WAL.
public final class ArchiveOperationsScenarios {
    public let test: XCTestCase
    public let store: CountingObjectStore
    public let storeIdentity: StoreIdentity
    public let layout: StorageLayout
    public let workspace: String
    public static let segmentSize = WALSegmentSize(bytes: 1 << 20)!
    public static let days = (0...3).map { calendarDate(dayOffset: 300 + $0) }
    /// Which day each segment of each timeline is dated.
    static let timelineOne: [(number: UInt64, day: Int)] = [(1, 0), (2, 0), (3, 0), (4, 1), (5, 1), (6, 1), (7, 2), (8, 2)]
    static let timelineTwo: [(number: UInt64, day: Int)] = [(7, 2), (8, 2), (9, 3), (10, 3)]

    public init(test: XCTestCase, destination: StoreDestination, prefix: String = "cluster") throws {
        self.test = test
        store = CountingObjectStore(try destination.makeStore())
        storeIdentity = StoreIdentity(destination: destination, prefix: prefix)
        layout = StorageLayout(prefix: prefix)
        workspace = try makeTemporaryDirectory(test, "pg_wal")
    }

    public func name(_ timeline: UInt32, _ number: UInt64) -> WALFileName {
        WALFileName(timeline: timeline, segmentNumber: number, segmentSize: Self.segmentSize)!
    }

    /// Keys of the archive, relative to the prefix.
    public func keys() throws -> [String] {
        try store.base.listObjects(prefix: layout.root, startAfter: nil, limit: 1000).map { String($0.key.dropFirst(layout.root.count)) }
    }

    @discardableResult
    public func push(_ file: String, contents: [UInt8]? = nil, day: Int) throws -> String {
        let path = workspace + "/" + file
        if let contents {
            try Data(contents).write(to: URL(fileURLWithPath: path))
        } else {
            _ = try TestSegments.writeSegment(name: file, in: workspace, segmentSize: 1 << 20)
        }
        try TestSegments.setModificationTime(path, UTCTime(secondsSinceEpoch: 1_767_225_600 + Int64(300 + day) * 86_400 + 3_600))
        let outcome = try ArchiveOperation(store: store.base, storeIdentity: storeIdentity, archiveIdentity: TestArchives.identity)
            .archive(path: path)
        try FileManager.default.removeItem(atPath: path)
        switch outcome {
        case .stored(let key), .alreadyArchived(let key): return key
        }
    }

    public static func backupHistory(start: String, startSegment: WALFileName, stop: String, label: String) -> [UInt8] {
        Array("""
            START WAL LOCATION: \(start) (file \(startSegment))
            STOP WAL LOCATION: \(stop) (file \(startSegment))
            CHECKPOINT LOCATION: \(start)
            BACKUP METHOD: streamed
            BACKUP FROM: primary
            START TIME: 2026-10-28 10:00:00 UTC
            LABEL: \(label)
            START TIMELINE: 1
            STOP TIME: 2026-10-28 10:00:05 UTC
            STOP TIMELINE: 1

            """.utf8)
    }

    /// Builds the archive described above.
    public func buildArchive() throws {
        for (number, day) in Self.timelineOne { try push(name(1, number).description, day: day) }
        try push(name(1, 2).description + ".00000028.backup",
                 contents: Self.backupHistory(start: "0/200028", startSegment: name(1, 2), stop: "0/200100", label: "backup A"),
                 day: 0)
        try push(name(1, 5).description + ".00000028.backup",
                 contents: Self.backupHistory(start: "0/500028", startSegment: name(1, 5), stop: "0/500100", label: "backup B"),
                 day: 1)
        try push("00000002.history", contents: Array("1\t0/700100\tno recovery target specified\n".utf8), day: 2)
        for (number, day) in Self.timelineTwo { try push(name(2, number).description, day: day) }
        try putBytes(store.base, key: layout.root + "wal-archive.json", Array("{}".utf8), ifAbsent: true)
        try putBytes(store.base, key: layout.root + "notes/readme.txt", Array("not WAL".utf8))
    }

    public func inventory() throws -> ArchiveInventory {
        try ArchiveInventory.read(from: store, layout: layout, segmentSize: nil, temporaryDirectory: workspace)
    }

    public func inventoryShowsTimelinesForkPointsBackupsRangesAndDates() throws {
        try buildArchive()
        store.resetCounts()
        let inventory = try inventory()
        // One listing, one GET per history and backup history file, one HEAD for the segment size.
        XCTAssertEqual(store.lists, 1)
        XCTAssertEqual(store.gets, 3)
        XCTAssertEqual(store.heads, 1)
        XCTAssertEqual(inventory.segmentSize, Self.segmentSize)
        XCTAssertEqual(inventory.histories[2]?.entries, [.init(parent: 1, switchLSN: 0x700100, reason: "no recovery target specified")])
        XCTAssertEqual(inventory.backups.map(\.history.label), ["backup A", "backup B"])
        XCTAssertEqual(inventory.backups.map(\.history.startSegment), [name(1, 2), name(1, 5)])
        XCTAssertEqual(inventory.backups.first?.history.stopLSN, 0x200100)
        XCTAssertEqual(inventory.ranges, [.init(timeline: 1, first: 1, last: 8), .init(timeline: 2, first: 7, last: 10)])
        XCTAssertEqual(inventory.usageByDate.map(\.date), Self.days)
        XCTAssertEqual(inventory.usageByDate.map(\.objects), [4, 4, 4, 2])
        XCTAssertEqual(Set(inventory.otherObjects.map(\.key)), [layout.root + "wal-archive.json", layout.root + "notes/readme.txt"])
        XCTAssertTrue(inventory.problems.isEmpty, "\(inventory.problems)")
        XCTAssertTrue(inventory.files.allSatisfy { $0.storedBytes > 0 && $0.lastModified != nil })
    }

    public func chainFollowsTheTimelineSwitchAndNamesAMissingSegment() throws {
        try buildArchive()
        let chain = try WALChain(inventory: inventory(), from: .oldest)
        XCTAssertEqual(chain.backup?.history.label, "backup A")
        XCTAssertEqual(chain.steps, [.init(timeline: 1, first: 2, last: 6), .init(timeline: 2, first: 7, last: nil)])
        XCTAssertEqual(chain.endNumber, 10)
        XCTAssertEqual(chain.missing, [])
        XCTAssertEqual(chain.problems, [])

        let removed = try XCTUnwrap(try inventory().files.first { $0.name == name(1, 4) })
        try store.base.delete(key: removed.key)
        // The fork segment comes from timeline 2: removing timeline 1's copy changes nothing.
        let forkCopy = try XCTUnwrap(try inventory().files.first { $0.name == name(1, 7) })
        try store.base.delete(key: forkCopy.key)
        let broken = try WALChain(inventory: inventory(), from: .oldest)
        XCTAssertEqual(broken.missing, [.init(timeline: 1, first: 4, last: 4)])
        // From a start after the hole, the chain is whole again.
        XCTAssertEqual(try WALChain(inventory: inventory(), from: .backup("backup B")).missing, [])
        XCTAssertEqual(try WALChain(inventory: inventory(), from: .segment(name(2, 9))).steps, [.init(timeline: 2, first: 9, last: nil)])
        // An LSN before the fork point is on timeline 1, and the chain still follows timeline 2.
        let byLSN = try WALChain(inventory: inventory(), from: .lsn(0x500000))
        XCTAssertEqual(byLSN.startTimeline, 1)
        XCTAssertEqual(byLSN.targetTimeline, 2)
        XCTAssertThrowsError(try WALChain(inventory: inventory(), from: .backup("no such backup")))
    }

    /// `corrupt` replaces the object under a key with damaged bytes (how depends on the store).
    public func verificationNamesSegmentsWithoutChecksumAndCorruptedOnes(corrupt: (String) throws -> Void) throws {
        try buildArchive()
        let inventory = try inventory()
        let chain = try WALChain(inventory: inventory, from: .oldest)
        let verification = ChainVerification(store: store, inventory: inventory, temporaryDirectory: workspace)
        store.resetCounts()
        XCTAssertEqual(try verification.verify(chain, deep: false, systemIdentifier: nil), [])
        XCTAssertEqual(store.heads, 9, "one HEAD per segment of the chain (2…10)")
        store.resetCounts()
        XCTAssertEqual(try verification.verify(chain, deep: true, systemIdentifier: 7_300_000_000_000_000_001), [])
        XCTAssertEqual(store.gets, 9, "one GET per segment of the chain")
        // Another system's identifier is named on every segment.
        XCTAssertEqual(try verification.verify(chain, deep: true, systemIdentifier: 42).count, 9)

        let damaged = try XCTUnwrap(inventory.files.first { $0.name == name(2, 9) })
        try corrupt(damaged.key)
        let unchecked = try XCTUnwrap(inventory.files.first { $0.name == name(1, 3) })
        try store.base.delete(key: unchecked.key)
        try putBytes(store.base, key: unchecked.key, Array(repeating: 1, count: 100))
        let findings = try verification.verify(chain, deep: true, systemIdentifier: nil)
        XCTAssertEqual(findings.map(\.name), [name(1, 3), name(2, 9)])
        XCTAssertTrue(findings[1].message.contains("corrupt"), findings[1].message)
        let shallow = try verification.verify(chain, deep: false, systemIdentifier: nil)
        XCTAssertEqual(shallow.map(\.name), [name(1, 3)])
        XCTAssertTrue(shallow[0].message.contains("wal-sha256"), shallow[0].message)
    }

    public func pruneKeepingOneBackupDeletesOnlyWALBeforeItsStart() throws {
        try buildArchive()
        let before = try keys()
        let plan = try PrunePlan(inventory: inventory(), rule: .keepBackups(1))
        XCTAssertEqual(plan.keepFrom, name(1, 5))
        XCTAssertEqual(plan.keptBackups.map(\.history.label), ["backup B"])
        XCTAssertEqual(plan.deletions.map(\.name.description),
                       [name(1, 1), name(1, 2)].map(\.description) + [name(1, 2).description + ".00000028.backup"]
                       + [name(1, 3), name(1, 4)].map(\.description))
        XCTAssertEqual(try keys(), before, "planning deletes nothing")
        store.resetCounts()
        XCTAssertEqual(try plan.execute(on: store), [])
        // One batch for the data, then one for the claims of the names it held.
        XCTAssertEqual(store.batchDeletes, 2)
        let after = try keys()
        XCTAssertEqual(plan.claimDeletions.map { String($0.dropFirst(layout.root.count)) }.sorted(),
                       plan.deletions.map { NameClaim.folder + "/" + $0.name.description }.sorted(), "every deleted name's claim goes too")
        XCTAssertEqual(Set(before).subtracting(after),
                       Set((plan.deletions.map(\.key) + plan.claimDeletions).map { String($0.dropFirst(layout.root.count)) }))
        for kept in ["timelines/00000002.history", "wal-archive.json", "notes/readme.txt"] {
            XCTAssertTrue(after.contains(kept), kept)
        }
        XCTAssertTrue(after.contains { $0.hasSuffix(name(1, 5).description + ".00000028.backup.zst") }, "\(after)")
        // Everything a recovery from backup B reads is still there, and a second prune finds nothing.
        XCTAssertEqual(try WALChain(inventory: inventory(), from: .oldest).missing, [])
        let again = try PrunePlan(inventory: inventory(), rule: .keepBackups(1))
        XCTAssertEqual(again.deletions, [])
        XCTAssertEqual(again.claimDeletions, [])
    }

    /// A prune whose batch delete the store partly refuses: the claim of a name whose data is
    /// still stored stays with it (without its claim the name could be stored again, with other
    /// content, beside that data); the next prune deletes both.
    public func aClaimStaysWhileItsNameIsStillStored() throws {
        try buildArchive()
        let plan = try PrunePlan(inventory: inventory(), rule: .keepBackups(1))
        let refused = try XCTUnwrap(plan.deletions.first { $0.name == name(1, 3) })
        let claim = NameClaim.key(name: refused.name.description, layout: layout)
        XCTAssertTrue(plan.claimDeletions.contains(claim), "\(plan.claimDeletions)")
        XCTAssertEqual(try plan.execute(on: DeleteRefusingStore(store.base, refusing: [refused.key])).map(\.key), [refused.key])
        let relative = { (key: String) in String(key.dropFirst(self.layout.root.count)) }
        let after = try keys()
        XCTAssertTrue(after.contains(relative(refused.key)), "\(after)")
        XCTAssertTrue(after.contains(relative(claim)), "the claim of a name still stored was deleted: \(after)")
        for other in plan.claimDeletions where other != claim {
            XCTAssertFalse(after.contains(relative(other)), other)
        }
        let next = try PrunePlan(inventory: inventory(), rule: .keepBackups(1))
        XCTAssertEqual(next.deletions.map(\.key), [refused.key])
        XCTAssertEqual(next.claimDeletions, [claim])
        XCTAssertEqual(try next.execute(on: store), [])
        XCTAssertFalse(try keys().contains(relative(claim)))
    }

    public func pruneBeforeADateNeverPassesTheOldestKeptBackup() throws {
        try buildArchive()
        let byDay1 = try PrunePlan(inventory: inventory(), rule: .before(Self.days[1]))
        XCTAssertEqual(byDay1.keptBackups.map(\.history.label), ["backup B"])
        // Segment 4 is older than backup B but dated day 1: not before the date.
        XCTAssertEqual(byDay1.deletions.map(\.name), [name(1, 1), name(1, 2), try XCTUnwrap(WALFileName(parsing: name(1, 2).description + ".00000028.backup")), name(1, 3)])
        // No backup on or after day 3: the newest is kept, and nothing it needs goes.
        let byDay3 = try PrunePlan(inventory: inventory(), rule: .before(Self.days[3]))
        XCTAssertEqual(byDay3.keepFrom, name(1, 5))
        XCTAssertFalse(byDay3.deletions.contains { $0.name.segment >= 5 })
        XCTAssertEqual(try PrunePlan(inventory: inventory(), rule: .before(Self.days[0])).deletions, [])
        XCTAssertThrowsError(try PrunePlan(inventory: inventory(), rule: .before("yesterday")))
        XCTAssertThrowsError(try PrunePlan(inventory: inventory(), rule: .keepBackups(0)))
    }

    public func pruneRefusesAnArchiveWithoutBackups() throws {
        for (number, day) in Self.timelineOne { try push(name(1, number).description, day: day) }
        XCTAssertThrowsError(try PrunePlan(inventory: inventory(), rule: .keepBackups(1))) { error in
            XCTAssertEqual(error as? PruneError, .noBackups)
        }
    }

    /// A backup whose start segment and backup history file were stored by an `aws s3 cp`
    /// script in the flat layout, without metadata, followed by wal-push's dated segments.
    public func pruneHandlesABackupInTheLegacyFlatLayout() throws {
        for number in UInt64(1)...3 {
            try putBytes(store.base, key: layout.legacyKey(name: name(1, number).description, suffix: ""),
                         Array(try TestSegments.writeSegment(name: name(1, number).description, in: workspace, segmentSize: 1 << 20).bytes))
        }
        let flatBackup = name(1, 3).description + ".00000028.backup"
        try putBytes(store.base, key: layout.legacyKey(name: flatBackup, suffix: ""),
                     Self.backupHistory(start: "0/300028", startSegment: name(1, 3), stop: "0/300100", label: "flat"))
        for number in UInt64(4)...5 { try push(name(1, number).description, day: 1) }
        let inventory = try inventory()
        XCTAssertEqual(inventory.backups.map(\.history.label), ["flat"])
        XCTAssertEqual(inventory.segmentSize, Self.segmentSize, "taken from the newest segment's wal-size")
        let plan = try PrunePlan(inventory: inventory, rule: .keepBackups(1))
        XCTAssertEqual(plan.deletions.map(\.key), [1, 2].map { layout.legacyKey(name: name(1, $0).description, suffix: "") })
        XCTAssertEqual(try plan.execute(on: store), [])
        XCTAssertEqual(try WALChain(inventory: self.inventory(), from: .oldest).missing, [])
    }

    public func statusCountsAndMetricsDescribeTheArchive() throws {
        try buildArchive()
        let removed = try XCTUnwrap(try inventory().files.first { $0.name == name(1, 4) })
        try store.base.delete(key: removed.key)
        let now = UTCTime.now()
        let status = ArchiveStatus(inventory: try inventory(), location: "s3://bucket/\"quoted\"\\path", time: now)
        XCTAssertEqual(status.newestSegment?.name, name(2, 10))
        XCTAssertEqual(status.oldestSegment?.name, name(1, 1))
        XCTAssertEqual(status.segmentCount, 11)
        XCTAssertEqual(status.missingSegments, 1)
        XCTAssertEqual(status.backups.count, 2)
        let metrics = PrometheusMetrics(status: status).text
        let label = "{archive=\"s3://bucket/\\\"quoted\\\"\\\\path\"}"
        XCTAssertTrue(metrics.contains("wal_archive_missing_segments\(label) 1\n"), metrics)
        XCTAssertTrue(metrics.contains("wal_archive_segments\(label) 11\n"), metrics)
        XCTAssertTrue(metrics.contains("wal_archive_up\(label) 1\n"), metrics)
        XCTAssertTrue(metrics.contains("wal_archive_status_timestamp_seconds\(label) \(now.secondsSinceEpoch)\n"), metrics)
        XCTAssertTrue(metrics.contains("wal_archive_newest_segment_timestamp_seconds\(label) "), metrics)
    }
}

/// A store whose batch deletes refuse some keys (as S3 does a key the policy protects) and
/// delete the rest.
public final class DeleteRefusingStore: ForwardingObjectStore {
    public let base: any ObjectStore
    public let refused: Set<String>

    public init(_ base: any ObjectStore, refusing keys: Set<String>) {
        self.base = base
        refused = keys
    }

    public func delete(key: String) throws(StorageError) {
        guard !refused.contains(key) else { throw .accessDenied(detail: "refused by the test") }
        try base.delete(key: key)
    }
    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] {
        let allowed = keys.filter { !refused.contains($0) }
        let failures = allowed.isEmpty ? [] : try base.delete(keys: allowed)
        return failures + keys.filter { refused.contains($0) }.map { DeleteFailure(key: $0, reason: "AccessDenied: refused by the test") }
    }
}
