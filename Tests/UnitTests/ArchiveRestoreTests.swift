import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Push/fetch through the library against any store; run on a directory and on local S3.
class ArchiveRestoreScenarios {
    let test: XCTestCase
    let store: CountingObjectStore
    let layout: StorageLayout
    let workspace: String

    init(test: XCTestCase, store: any ObjectStore, prefix: String = "cluster") throws {
        self.test = test
        self.store = CountingObjectStore(store)
        layout = StorageLayout(prefix: prefix)
        workspace = try makeTemporaryDirectory(test, "pgdata")
        try FileManager.default.createDirectory(atPath: workspace + "/pg_wal", withIntermediateDirectories: true)
    }

    func pusher(_ compression: CompressionAlgorithm = .default, level: Int32? = nil) -> ArchiveOperation {
        ArchiveOperation(store: store, layout: layout, compression: compression, compressionLevel: level)
    }

    var fetcher: RestoreOperation {
        RestoreOperation(store: store, layout: layout)
    }

    var destination: String { workspace + "/pg_wal/RECOVERYXLOG" }

    func walEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: workspace + "/pg_wal").filter { $0 != ".wal-archive" }.sorted()
    }

    /// The slow top levels run on 1 MiB segments (a size PostgreSQL allows), the rest on 16 MiB.
    func roundTripIsByteExact(compressions: [(CompressionAlgorithm, Int32?)]) throws {
        for (index, (compression, level)) in compressions.enumerated() {
            let name = segmentName(timeline: 1, number: 10 + index)
            let segmentSize = level == nil ? 16 << 20 : 1 << 20
            let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", segmentSize: segmentSize)
            let outcome = try pusher(compression, level: level).archive(path: segment.path)
            guard case .stored(let key) = outcome else { return XCTFail("\(outcome)") }
            XCTAssertTrue(key.hasSuffix(name + compression.keySuffix), key)
            XCTAssertEqual(try store.head(key: key)?.metadata[PayloadMetadata.compressionName], compression.rawValue)
            try fetcher.restore(name: name, to: destination)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes, "\(compression)")
            try FileManager.default.removeItem(atPath: destination)
            try FileManager.default.removeItem(atPath: segment.path)
            XCTAssertEqual(try walEntries(), [])
        }
    }

    func doublePushSucceedsWithoutUploading() throws {
        let name = segmentName(timeline: 1, number: 3)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        guard case .stored(let key) = try pusher().archive(path: segment.path) else { return XCTFail() }
        let before = try XCTUnwrap(try store.head(key: key))
        store.resetCounts()
        XCTAssertEqual(try pusher().archive(path: segment.path), .alreadyArchived(key: key))
        XCTAssertEqual(store.puts, 0)
        XCTAssertEqual(try store.head(key: key), before)
    }

    func differentContentIsRefusedAndTheArchiveKept() throws {
        let name = segmentName(timeline: 1, number: 4)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", seed: 1)
        guard case .stored(let key) = try pusher().archive(path: segment.path) else { return XCTFail() }
        let before = try XCTUnwrap(try store.head(key: key))
        let modification = try FileOperations.modificationTime(segment.path)
        let other = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", seed: 2)
        try TestSegments.setModificationTime(other.path, modification)
        XCTAssertThrowsError(try pusher().archive(path: other.path)) { error in
            guard let error = error as? ArchiveError, case .conflict = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus, .conflictingArchive)
            XCTAssertTrue(error.message.contains("a different file is already archived as \(key)"), error.message)
        }
        XCTAssertEqual(try store.head(key: key), before)
        try fetcher.restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes)
    }

    /// `damage` replaces the stored object by one whose bytes differ, keeping its metadata.
    func damagedObjectFailsWithoutWritingDestination(damage: (String) throws -> Void) throws {
        let name = segmentName(timeline: 1, number: 5)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        guard case .stored(let key) = try pusher(CompressionAlgorithm.none).archive(path: segment.path) else {
            return XCTFail()
        }
        try FileManager.default.removeItem(atPath: segment.path)
        try damage(key)
        XCTAssertThrowsError(try fetcher.restore(name: name, to: destination)) { error in
            guard let error = error as? RestoreError, case .verification = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
            XCTAssertTrue(error.message.contains(key), error.message)
        }
        XCTAssertEqual(try walEntries(), [])
    }

    func historyFilesLiveUnderTimelines() throws {
        let path = workspace + "/pg_wal/00000002.history"
        let text = "1\t0/3000000\tno recovery target specified\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try pusher().archive(path: path), .stored(key: layout.root + "timelines/00000002.history"))
        store.resetCounts()
        try fetcher.restore(name: "00000002.history", to: destination)
        XCTAssertEqual(try String(contentsOfFile: destination, encoding: .utf8), text)
        XCTAssertEqual(store.requests, 1)
        store.resetCounts()
        XCTAssertThrowsError(try fetcher.restore(name: "00000003.history", to: destination)) { error in
            guard let error = error as? RestoreError, case .notFound = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus(standbyMode: false), .notFound)
        }
        XCTAssertEqual(store.requests, 1)
    }

    func conditionalWriteFallsBackWhenUnsupported() throws {
        let refusing = ConditionalWriteRefusingStore(store)
        let name = segmentName(timeline: 1, number: 6)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        let operation = ArchiveOperation(store: refusing, layout: layout)
        guard case .stored(let key) = try operation.archive(path: segment.path) else { return XCTFail() }
        XCTAssertEqual(refusing.refusals, 1)
        XCTAssertEqual(try operation.archive(path: segment.path), .alreadyArchived(key: key))
        try fetcher.restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes)
    }
}

/// A store in front of a real one that answers conditional PUTs as a server without
/// `If-None-Match` support does (501 NotImplemented).
final class ConditionalWriteRefusingStore: ObjectStore {
    let base: any ObjectStore
    var refusals = 0
    var location: String { base.location }

    init(_ base: any ObjectStore) { self.base = base }

    func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        if request.ifAbsent {
            refusals += 1
            throw .rejected(status: 501, code: "NotImplemented", message: "A header you provided implies functionality that is not implemented",
                            requestID: "test")
        }
        return try base.put(request)
    }

    func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo { try base.get(key: key, into: sink) }
    func head(key: String) throws(StorageError) -> ObjectInfo? { try base.head(key: key) }
    func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        try base.list(prefix: prefix, delimiter: delimiter, startAfter: startAfter, limit: limit)
    }
    func delete(key: String) throws(StorageError) { try base.delete(key: key) }
}

final class ArchiveRestoreTests: XCTestCase {
    private func scenarios() throws -> (ArchiveRestoreScenarios, String) {
        let root = try makeTemporaryDirectory(self, "archive")
        return (try ArchiveRestoreScenarios(test: self, store: DirectoryStore(root: root)), root)
    }

    func testRoundTripIsByteExactForEveryCompression() throws {
        try scenarios().0.roundTripIsByteExact(compressions: [(.none, nil), (.gzip, nil), (.gzip, 9), (.zstd, nil), (.zstd, 19)])
    }

    func testDoublePushSucceedsWithoutUploading() throws {
        try scenarios().0.doublePushSucceedsWithoutUploading()
    }

    func testDifferentContentIsRefusedAndTheArchiveKept() throws {
        try scenarios().0.differentContentIsRefusedAndTheArchiveKept()
    }

    func testFlippedByteInTheArchiveFailsTheFetch() throws {
        let (scenarios, root) = try scenarios()
        try scenarios.damagedObjectFailsWithoutWritingDestination { key in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: root + "/" + key))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size - 1000)
            let byte = try XCTUnwrap(try handle.read(upToCount: 1))
            try handle.seek(toOffset: size - 1000)
            try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
            try handle.close()
        }
    }

    func testHistoryFilesLiveUnderTimelines() throws {
        try scenarios().0.historyFilesLiveUnderTimelines()
    }

    func testConditionalWriteFallsBackWhenUnsupported() throws {
        try scenarios().0.conditionalWriteFallsBackWhenUnsupported()
    }

    func testBadFileNamesAreRejected() throws {
        let (scenarios, _) = try scenarios()
        for name in ["../000000010000000000000001", "pg_wal/000000010000000000000001", "garbage", "", "00000001000000000000000G",
                     "000000010000000000000001/"] {
            XCTAssertThrowsError(try scenarios.fetcher.restore(name: name, to: scenarios.destination), name) { error in
                guard let error = error as? RestoreError, case .invalidName = error else { return XCTFail("\(error)") }
                XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
            }
        }
    }
}

/// The same scenarios through `S3Store` against the signature-checking local S3 server.
final class ArchiveRestoreS3Tests: XCTestCase {
    private func scenarios() throws -> ArchiveRestoreScenarios {
        let server = try LocalS3Server.shared()
        return try ArchiveRestoreScenarios(test: self, store: try S3Store(settings: server.settings()),
                                           prefix: String(server.uniquePrefix("archive").dropLast()))
    }

    func testRoundTripIsByteExactForEveryCompression() throws {
        try scenarios().roundTripIsByteExact(compressions: [(.none, nil), (.gzip, nil), (.zstd, nil), (.zstd, 19)])
    }

    func testDoublePushSucceedsWithoutUploading() throws {
        try scenarios().doublePushSucceedsWithoutUploading()
    }

    func testDifferentContentIsRefusedAndTheArchiveKept() throws {
        try scenarios().differentContentIsRefusedAndTheArchiveKept()
    }

    func testFlippedByteInTheArchiveFailsTheFetch() throws {
        let scenarios = try scenarios()
        let store = scenarios.store
        try scenarios.damagedObjectFailsWithoutWritingDestination { key in
            let original = CollectingSink()
            let info = try store.get(key: key, into: original)
            var damaged = original.bytes
            damaged[damaged.count - 1000] ^= 0x01
            try putBytes(store, key: key, damaged, metadata: info.metadata)
        }
    }

    func testHistoryFilesLiveUnderTimelines() throws {
        try scenarios().historyFilesLiveUnderTimelines()
    }

    func testConditionalWriteFallsBackWhenUnsupported() throws {
        try scenarios().conditionalWriteFallsBackWhenUnsupported()
    }
}
