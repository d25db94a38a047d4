import XCTest
@testable import WALArchive

final class StorageLayoutTests: XCTestCase {
    func testKeysWithPrefix() {
        let layout = StorageLayout(prefix: "cluster-a/wal")
        XCTAssertEqual(layout.segmentKey(name: "000000010000000000000002", date: "2026-11-23", suffix: ".zst"),
                       "cluster-a/wal/2026-11-23/000000010000000000000002.zst")
        XCTAssertEqual(layout.historyKey(name: "00000002.history"), "cluster-a/wal/timelines/00000002.history")
        XCTAssertEqual(layout.legacyKey(name: "000000010000000000000002", suffix: ""), "cluster-a/wal/000000010000000000000002")
        XCTAssertEqual(layout.datePartition("2026-11-23"), "cluster-a/wal/2026-11-23/")
    }

    func testKeysWithoutPrefix() {
        let layout = StorageLayout(prefix: "")
        XCTAssertEqual(layout.segmentKey(name: "000000010000000000000002.partial", date: "2026-11-23", suffix: ".gz"),
                       "2026-11-23/000000010000000000000002.partial.gz")
        XCTAssertEqual(layout.historyKey(name: "00000003.history"), "timelines/00000003.history")
        XCTAssertEqual(layout.root, "")
    }

    func testRecognisesOnlyDatePartitions() {
        let layout = StorageLayout(prefix: "p")
        XCTAssertEqual(layout.date(ofPartition: "p/2026-01-31/"), "2026-01-31")
        XCTAssertNil(layout.date(ofPartition: "p/timelines/"))
        XCTAssertNil(layout.date(ofPartition: "p/2026-1-31/"))
        XCTAssertNil(layout.date(ofPartition: "q/2026-01-31/"))
        XCTAssertNil(layout.date(ofPartition: "p/2026-01-31"))
    }

    func testStartAfterSortsJustBeforeTheName() {
        let name = "000000010000000000000020"
        let startAfter = SegmentLocator.justBefore(name)
        XCTAssertEqual(startAfter, "00000001000000000000002/~")
        XCTAssertTrue(startAfter < name)
        XCTAssertTrue("00000001000000000000001F.zst" < startAfter)
        XCTAssertTrue(startAfter < name + ".gz")
    }
}
