import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The local copy of the archive identity: used while fresh and only for the same store,
/// never when damaged, and never for a directory archive (whose read detects an unmounted share).
final class ArchiveIdentityCheckTests: XCTestCase {
    private var root = ""
    private var cache = ""
    private var store: CountingObjectStore!
    /// An S3 store's identity (so the copy is kept) in front of a directory: no server needed.
    private let s3Identity = StoreIdentity(backend: .s3(endpoint: "http://127.0.0.1:9", bucket: "wal", region: "us-east-1",
                                                        principal: "AKID"), prefix: "")

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory(self, "identity-archive")
        cache = try XCTUnwrap(WALDirectory(path: try makeTemporaryDirectory(self, "identity-pgwal")).trustedStateDirectory(create: true))
        store = CountingObjectStore(DirectoryStore(root: root))
        try TestArchives.create(in: store, storeIdentity: s3Identity)
        store.resetCounts()
    }

    private func check(_ storeIdentity: StoreIdentity? = nil) -> ArchiveIdentityCheck {
        ArchiveIdentityCheck(store: store, storeIdentity: storeIdentity ?? s3Identity, cacheDirectory: cache)
    }

    private func age(_ seconds: Int64) throws {
        let path = try XCTUnwrap(check().cachePath)
        try TestSegments.setModificationTime(path, UTCTime(secondsSinceEpoch: UTCTime.now().secondsSinceEpoch - seconds))
    }

    func testTheCopyAnswersWhileFreshForTheSameStoreOnly() throws {
        XCTAssertEqual(try check().identity().source, .store)
        XCTAssertEqual(store.gets, 1)
        store.resetCounts()
        let cached = try check().identity()
        XCTAssertEqual(cached.source, .cache)
        XCTAssertEqual(cached.identity, TestArchives.identity)
        XCTAssertEqual(store.requests, 0)

        for seconds in [ArchiveIdentityCheck.cacheLifetimeSeconds + 1, -120] {
            try age(seconds)
            store.resetCounts()
            XCTAssertEqual(try check().identity().source, .store, "copy aged \(seconds) s")
            XCTAssertEqual(store.gets, 1)
        }
        let otherStore = StoreIdentity(backend: .s3(endpoint: "http://127.0.0.1:9", bucket: "wal", region: "us-east-1",
                                                    principal: "AKID2"), prefix: "")
        XCTAssertEqual(try check(otherStore).identity().source, .store, "another access key is another store")
    }

    func testADamagedCopyIsNotUsed() throws {
        _ = try check().identity()
        let path = try XCTUnwrap(check().cachePath)
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))
        store.resetCounts()
        XCTAssertEqual(try check().identity().source, .store)
        XCTAssertEqual(try check().identity().source, .cache, "the read replaced it")
    }

    /// The identity deleted from the store: the next read says so, and the copy goes with it.
    func testAMissingIdentityRemovesTheCopy() throws {
        _ = try check().identity()
        try store.delete(key: ArchiveIdentityObject.key(StorageLayout(prefix: "")))
        XCTAssertThrowsError(try check().refresh()) {
            guard case .missing(let location)? = $0 as? ArchiveIdentityError else { return XCTFail("\($0)") }
            XCTAssertEqual(location, "s3://wal/wal-archive.json at http://127.0.0.1:9")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: try XCTUnwrap(check().cachePath)))
        XCTAssertThrowsError(try check().identity())
    }

    func testADirectoryArchiveIsReadOnEveryCall() throws {
        let directoryIdentity = StoreIdentity(destination: .directory(root: root), prefix: "")
        XCTAssertNil(check(directoryIdentity).cachePath)
        for _ in 0..<3 { XCTAssertEqual(try check(directoryIdentity).identity().source, .store) }
        XCTAssertEqual(store.gets, 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache), [], "a directory archive's identity was kept")
    }

    /// A copy that names another system than the file's is read again from the store before
    /// the file is refused: the archive was initialised anew (here: for the file's system).
    func testAStaleCopyIsReadAgainBeforeAFileIsRefused() throws {
        _ = try check().identity()
        let newSystem: UInt64 = 7_355_555_555_555_555_555
        try store.delete(key: ArchiveIdentityObject.key(StorageLayout(prefix: "")))
        var renewed = TestArchives.identity
        renewed.systemIdentifier = newSystem
        try TestArchives.create(renewed, in: store, storeIdentity: s3Identity)
        let found = try check().identity()
        XCTAssertEqual(found.source, .cache)
        XCTAssertEqual(found.identity.systemIdentifier, TestSegments.systemIdentifier, "the stale copy")
        let walDirectory = try makeTemporaryDirectory(self, "identity-source")
        let segment = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 3), in: walDirectory, segmentSize: 1 << 20,
                                                    systemIdentifier: newSystem)
        let operation = ArchiveOperation(store: store, storeIdentity: s3Identity, archiveIdentity: found.identity, identityCheck: check())
        guard case .stored = try operation.archive(path: segment.path) else { return XCTFail() }
        XCTAssertEqual(try check().identity().identity.systemIdentifier, newSystem, "the copy was renewed")
    }
}
