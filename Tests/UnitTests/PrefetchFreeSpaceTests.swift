import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The prefetch worker never takes the file system of `pg_wal` below its free-space floor (the
/// larger of 1 GiB and 5 %): it stops its batch there, and the fetch itself never fails for it.
final class PrefetchFreeSpaceTests: BuiltToolTestCase {
    static let segmentSize = 1 << 20


    private var prefetchDirectory: String { walDirectory + "/.wal-archive/prefetch" }

    private func prefetched() throws -> [String] {
        guard FileManager.default.fileExists(atPath: prefetchDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: prefetchDirectory).filter { !$0.hasPrefix(".") }
    }

    /// A 48 MiB `pg_wal` is far below the standard floor of 1 GiB: the worker started by the
    /// built `wal-fetch` adds nothing, and every fetch succeeds.
    func testOnASmallFileSystemTheWorkerAddsNothingAndFetchesSucceed() throws {
        let segments = try archiveTestSegments(6, segmentSize: Self.segmentSize)
        try SmallFileSystem.mount(self, bytes: 48 << 20, on: walDirectory)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        for number in 1...3 {
            let name = segmentName(timeline: 1, number: number)
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
            XCTAssertEqual(fetch.status, 0, fetch.stderr)
            XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG"), segments[name])
            PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
            XCTAssertEqual(try prefetched(), [], "the worker prefetched below the floor")
        }
    }

    /// With a floor of 20 MiB on a 24 MiB file system, the batch stops when one more segment
    /// would cross it, and the floor still holds afterwards.
    func testTheBatchStopsAtTheFloor() throws {
        try archiveTestSegments(12, segmentSize: Self.segmentSize)
        try SmallFileSystem.mount(self, bytes: 24 << 20, on: walDirectory)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        let prefetch = try XCTUnwrap(RestorePrefetch(count: 8, name: segmentName(timeline: 1, number: 1),
                                                     destination: walDirectory + "/RECOVERYXLOG", storeIdentity: directoryStoreIdentity))
        let floor = FreeSpaceFloor(minimumBytes: 20 << 20, fraction: 0.05)
        let stores: [any ObjectStore] = (0..<3).map { _ in DirectoryStore(root: archive) }
        let added = PrefetchWorker(prefetch: prefetch).runBatch(
            stores: stores, archiveIdentity: TestArchives.identity, searchesLegacyFlatLayout: false,
            preferredSuffix: CompressionAlgorithm.default.keySuffix, segmentSize: try XCTUnwrap(WALSegmentSize(bytes: Self.segmentSize)),
            floor: floor)
        XCTAssertGreaterThan(added, 0, "there was room for some")
        XCTAssertLessThan(added, 8, "the floor stopped the batch")
        XCTAssertEqual(try prefetched().count, added)
        XCTAssertGreaterThanOrEqual(SmallFileSystem.freeBytes(walDirectory), 20 << 20)
    }

    func testTheStandardFloorIsTheLargerOfOneGiBAndFivePercent() {
        XCTAssertEqual(FreeSpaceFloor.standard, FreeSpaceFloor(minimumBytes: 1 << 30, fraction: 0.05))
        // This machine's temporary directory: a floor above its size never allows anything.
        XCTAssertFalse(FreeSpaceFloor(minimumBytes: Int64.max / 2, fraction: 0).allows(1, reserved: 0, in: archive))
        XCTAssertTrue(FreeSpaceFloor(minimumBytes: 0, fraction: 0).allows(1, reserved: 0, in: archive))
        XCTAssertFalse(FreeSpaceFloor(minimumBytes: 0, fraction: 1).allows(1, reserved: 0, in: archive), "5 % becomes 100 %")
    }
}
