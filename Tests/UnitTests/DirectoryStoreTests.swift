import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class DirectoryStoreTests: XCTestCase {
    func testRoundTripsBytesAndMetadata() throws {
        let root = try makeTemporaryDirectory(self)
        let store = DirectoryStore(root: root)
        // Several of the store's 1 MiB copy chunks, the last one partial.
        var generator = SeededGenerator(seed: 31)
        let body = generator.uniformBytes(count: 3_000_000)
        XCTAssertEqual(try putBytes(store, key: "p/2026-01-01/A.zst", body, metadata: ["wal-sha256": "abc", "wal-size": "3"]), .stored)
        let sink = CollectingSink()
        let info = try store.get(key: "p/2026-01-01/A.zst", into: sink)
        XCTAssertEqual(Data(sink.bytes), Data(body), "compared as Data: memcmp rather than a generic call per byte")
        XCTAssertEqual(info.size, Int64(body.count))
        XCTAssertEqual(info.metadata, ["wal-sha256": "abc", "wal-size": "3"])
        XCTAssertEqual(try store.head(key: "p/2026-01-01/A.zst"), info)
        XCTAssertNil(try store.head(key: "p/2026-01-01/B"))
        XCTAssertThrowsError(try store.get(key: "p/2026-01-01/B", into: CollectingSink())) {
            XCTAssertEqual($0 as? StorageError, .notFound(key: "p/2026-01-01/B"))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root + "/p/2026-01-01")
        XCTAssertEqual(leftovers, ["A.zst"])
    }

    func testIfAbsentNeverReplacesAnExistingObject() throws {
        let root = try makeTemporaryDirectory(self)
        let store = DirectoryStore(root: root)
        XCTAssertEqual(try putBytes(store, key: "k", [1, 2, 3], metadata: ["wal-sha256": "one"], ifAbsent: true), .stored)
        let before = try store.head(key: "k")
        XCTAssertEqual(try putBytes(store, key: "k", [9, 9], metadata: ["wal-sha256": "two"], ifAbsent: true), .alreadyExists)
        let sink = CollectingSink()
        try store.get(key: "k", into: sink)
        XCTAssertEqual(sink.bytes, [1, 2, 3])
        XCTAssertEqual(try store.head(key: "k"), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["k"])
        XCTAssertEqual(try putBytes(store, key: "k", [7], metadata: [:]), .stored)
        try store.get(key: "k", into: sink)
        XCTAssertEqual(sink.bytes, [7])
    }

    func testRefusesBytesThatDoNotMatchTheirChecksum() throws {
        let root = try makeTemporaryDirectory(self)
        let store = DirectoryStore(root: root)
        let path = root + "/upload"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let request = PutRequest(key: "x/y", fileDescriptor: handle.fileDescriptor, length: 3,
                                 sha256Hex: SHA256Hasher.hash([1, 2, 4]).hexString)
        XCTAssertThrowsError(try store.put(request))
        XCTAssertNil(try store.head(key: "x/y"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/x"), [])
    }

    func testFilesCopiedWithoutHeaderAreObjectsWithoutMetadata() throws {
        let root = try makeTemporaryDirectory(self)
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/000000010000000000000001", contents: Data([5, 6, 7])))
        let store = DirectoryStore(root: root)
        let sink = CollectingSink()
        let info = try store.get(key: "000000010000000000000001", into: sink)
        XCTAssertEqual(sink.bytes, [5, 6, 7])
        XCTAssertEqual(info.metadata, [:])
        XCTAssertEqual(info.size, 3)
    }

    func testListsInKeyOrderWithDelimiterStartAfterAndLimit() throws {
        let root = try makeTemporaryDirectory(self)
        let store = DirectoryStore(root: root)
        for key in ["p/2026-01-02/B", "p/2026-01-01/A", "p/2026-01-01/A.gz", "p/2026-01-01/C", "p/timelines/00000002.history",
                    "p/000000010000000000000001", "p.x", "p/2026-01-03/D"] {
            try putBytes(store, key: key, [1])
        }
        XCTAssertEqual(try store.list(prefix: "p/", delimiter: "/", startAfter: nil, limit: 100),
                       ObjectListing(keys: ["p/000000010000000000000001"],
                                     commonPrefixes: ["p/2026-01-01/", "p/2026-01-02/", "p/2026-01-03/", "p/timelines/"]))
        XCTAssertEqual(try store.list(prefix: "p/", delimiter: "/", startAfter: "p/2026-01-01/~", limit: 100).commonPrefixes,
                       ["p/2026-01-02/", "p/2026-01-03/", "p/timelines/"])
        XCTAssertEqual(try store.list(prefix: "p/", delimiter: "/", startAfter: "p/2026-01-01/A", limit: 100).commonPrefixes.first,
                       "p/2026-01-01/")
        XCTAssertEqual(try store.list(prefix: "p/2026-01-01/", delimiter: nil, startAfter: "p/2026-01-01/A", limit: 100).keys,
                       ["p/2026-01-01/A.gz", "p/2026-01-01/C"])
        XCTAssertEqual(try store.list(prefix: "p/2026-01-01/A", delimiter: nil, startAfter: nil, limit: 1).keys,
                       ["p/2026-01-01/A"])
        XCTAssertEqual(try store.list(prefix: "p", delimiter: nil, startAfter: nil, limit: 3).keys,
                       ["p.x", "p/000000010000000000000001", "p/2026-01-01/A"])
        XCTAssertEqual(try store.list(prefix: "nothing/", delimiter: nil, startAfter: nil, limit: 3), ObjectListing())
    }

    func testDeleteRemovesTheObjectAndEmptyFolders() throws {
        let root = try makeTemporaryDirectory(self)
        let store = DirectoryStore(root: root)
        try putBytes(store, key: "a/b/c", [1])
        try store.delete(key: "a/b/c")
        try store.delete(key: "a/b/c")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
    }

    func testAMissingRootIsUnavailableAndNeverCreated() throws {
        let root = try makeTemporaryDirectory(self) + "/not-mounted"
        let store = DirectoryStore(root: root)
        XCTAssertThrowsError(try putBytes(store, key: "a", [1])) {
            guard case .unavailable = $0 as? StorageError else { return XCTFail("\($0)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root))
    }

    func testRejectsKeysThatEscapeTheRoot() throws {
        let store = DirectoryStore(root: try makeTemporaryDirectory(self))
        for key in ["../x", "a//b", "/abs", "a/./b", ""] {
            XCTAssertThrowsError(try store.head(key: key), key)
        }
    }
}
