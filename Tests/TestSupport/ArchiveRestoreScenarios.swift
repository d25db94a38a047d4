import Foundation
import XCTest
import WALArchive

/// Push/fetch through the library against any store; run on a directory and on local S3.
public final class ArchiveRestoreScenarios {
    public let test: XCTestCase
    public let store: CountingObjectStore
    public let layout: StorageLayout
    public let workspace: String

    public init(test: XCTestCase, store: any ObjectStore, prefix: String = "cluster") throws {
        self.test = test
        self.store = CountingObjectStore(store)
        layout = StorageLayout(prefix: prefix)
        workspace = try makeTemporaryDirectory(test, "pgdata")
        try FileManager.default.createDirectory(atPath: workspace + "/pg_wal", withIntermediateDirectories: true)
    }

    public func pusher(_ compression: CompressionAlgorithm = .default, level: Int32? = nil) -> ArchiveOperation {
        ArchiveOperation(store: store, layout: layout, compression: compression, compressionLevel: level)
    }

    public var fetcher: RestoreOperation {
        RestoreOperation(store: store, layout: layout)
    }

    public var destination: String { workspace + "/pg_wal/RECOVERYXLOG" }

    public func walEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: workspace + "/pg_wal").filter { $0 != ".wal-archive" }.sorted()
    }

    /// The slow top levels run on 1 MiB segments (a size PostgreSQL allows), the rest on 16 MiB.
    public func roundTripIsByteExact(compressions: [(CompressionAlgorithm, Int32?)]) throws {
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

    public func doublePushSucceedsWithoutUploading() throws {
        let name = segmentName(timeline: 1, number: 3)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        guard case .stored(let key) = try pusher().archive(path: segment.path) else { return XCTFail() }
        let before = try XCTUnwrap(try store.head(key: key))
        store.resetCounts()
        XCTAssertEqual(try pusher().archive(path: segment.path), .alreadyArchived(key: key))
        XCTAssertEqual(store.puts, 0)
        XCTAssertEqual(try store.head(key: key), before)
    }

    public func differentContentIsRefusedAndTheArchiveKept() throws {
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
    public func damagedObjectFailsWithoutWritingDestination(damage: (String) throws -> Void) throws {
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

    public func historyFilesLiveUnderTimelines() throws {
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

    public func conditionalWriteFallsBackWhenUnsupported() throws {
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
public final class ConditionalWriteRefusingStore: ObjectStore {
    public let base: any ObjectStore
    public var refusals = 0
    public var location: String { base.location }

    public init(_ base: any ObjectStore) { self.base = base }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        if request.ifAbsent {
            refusals += 1
            throw .rejected(status: 501, code: "NotImplemented", message: "A header you provided implies functionality that is not implemented",
                            requestID: "test")
        }
        return try base.put(request)
    }

    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo { try base.get(key: key, into: sink) }
    public func head(key: String) throws(StorageError) -> ObjectInfo? { try base.head(key: key) }
    public func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        try base.list(prefix: prefix, delimiter: delimiter, startAfter: startAfter, limit: limit)
    }
    public func delete(key: String) throws(StorageError) { try base.delete(key: key) }
    public func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject] {
        try base.listObjects(prefix: prefix, startAfter: startAfter, limit: limit)
    }
    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] { try base.delete(keys: keys) }
}
