import Foundation
import XCTest
import WALArchive

/// Push/fetch through the library against any store; run on a directory and on local S3.
public final class ArchiveRestoreScenarios {
    public let test: XCTestCase
    public let store: CountingObjectStore
    public let storeIdentity: StoreIdentity
    public let layout: StorageLayout
    public let workspace: String

    /// An archive at `destination` under `prefix`, with the test segments' identity.
    public init(test: XCTestCase, destination: StoreDestination, prefix: String = "cluster") throws {
        self.test = test
        store = CountingObjectStore(try destination.makeStore())
        storeIdentity = StoreIdentity(destination: destination, prefix: prefix)
        layout = StorageLayout(prefix: prefix)
        workspace = try makeTemporaryDirectory(test, "pgdata")
        try FileManager.default.createDirectory(atPath: workspace + "/pg_wal", withIntermediateDirectories: true)
        try TestArchives.create(in: store, storeIdentity: storeIdentity)
        store.resetCounts()
    }

    public func pusher(_ compression: CompressionAlgorithm = .default, level: Int32? = nil, on store: (any ObjectStore)? = nil)
        -> ArchiveOperation {
        ArchiveOperation(store: store ?? self.store, storeIdentity: storeIdentity, archiveIdentity: TestArchives.identity,
                         compression: compression, compressionLevel: level)
    }

    public func fetcher(legacyFlatLayout: Bool = false) -> RestoreOperation {
        RestoreOperation(store: store, storeIdentity: storeIdentity, archiveIdentity: TestArchives.identity,
                         searchesLegacyFlatLayout: legacyFlatLayout)
    }

    public var destination: String { workspace + "/pg_wal/RECOVERYXLOG" }

    public func walEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: workspace + "/pg_wal").filter { $0 != ".wal-archive" }.sorted()
    }

    /// PostgreSQL's default segment size, 16 MiB, with no compression and with the default
    /// (zstd at its default level); the other choices on 1 MiB segments (a size PostgreSQL
    /// allows, still several of every codec's 128 KiB output buffers), where the slow ones cost a
    /// sixteenth.
    public func roundTripIsByteExact(compressions: [(CompressionAlgorithm, Int32?)]) throws {
        for (index, (compression, level)) in compressions.enumerated() {
            let name = segmentName(timeline: 1, number: 10 + index)
            let segmentSize = level == nil && compression != .gzip ? 16 << 20 : 1 << 20
            let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", segmentSize: segmentSize)
            let outcome = try pusher(compression, level: level).archive(path: segment.path)
            guard case .stored(let key) = outcome else { return XCTFail("\(outcome)") }
            XCTAssertTrue(key.hasSuffix(name + compression.keySuffix), key)
            XCTAssertEqual(try store.head(key: key)?.metadata[PayloadMetadata.compressionName], compression.rawValue)
            try fetcher().restore(name: name, to: destination)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes, "\(compression)")
            try FileManager.default.removeItem(atPath: destination)
            try FileManager.default.removeItem(atPath: segment.path)
            XCTAssertEqual(try walEntries(), [])
        }
    }

    /// The same file again: exit 0 without uploading its data (only the empty claim is offered,
    /// and refused), and the archived object is untouched.
    public func doublePushSucceedsWithoutUploading() throws {
        let name = segmentName(timeline: 1, number: 3)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        guard case .stored(let key) = try pusher().archive(path: segment.path) else { return XCTFail() }
        let before = try XCTUnwrap(try store.head(key: key))
        let uploads = UploadRecordingStore(store)
        XCTAssertEqual(try pusher(on: uploads).archive(path: segment.path), .alreadyArchived(key: key))
        XCTAssertEqual(uploads.bytesOffered, 0, "data was uploaded again")
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
            XCTAssertTrue(error.message.hasPrefix("a different file is already archived as \(self.storeIdentity.describe(key: key)) ("),
                          error.message)
        }
        XCTAssertEqual(try store.head(key: key), before)
        try fetcher().restore(name: name, to: destination)
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
        XCTAssertThrowsError(try fetcher().restore(name: name, to: destination)) { error in
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
        try fetcher().restore(name: "00000002.history", to: destination)
        XCTAssertEqual(try String(contentsOfFile: destination, encoding: .utf8), text)
        XCTAssertEqual(store.requests, 1)
        store.resetCounts()
        XCTAssertThrowsError(try fetcher().restore(name: "00000003.history", to: destination)) { error in
            guard let error = error as? RestoreError, case .notFound = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus(standbyMode: false), .notFound)
        }
        XCTAssertEqual(store.requests, 1)
    }

    public func conditionalWriteFallsBackWhenUnsupported() throws {
        let refusing = ConditionalWriteRefusingStore(store)
        let name = segmentName(timeline: 1, number: 6)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal")
        let operation = pusher(on: refusing)
        guard case .stored(let key) = try operation.archive(path: segment.path) else { return XCTFail() }
        XCTAssertEqual(refusing.refusals, 2, "the claim and the data")
        XCTAssertEqual(try operation.archive(path: segment.path), .alreadyArchived(key: key))
        let other = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", seed: 77)
        XCTAssertThrowsError(try operation.archive(path: other.path)) { error in
            guard let error = error as? ArchiveError, case .conflict = error else { return XCTFail("\(error)") }
        }
        try fetcher().restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes)
    }
}

extension ArchiveRestoreScenarios {
    /// What an `aws s3 cp %p s3://bucket/prefix/%f` script left: every kind of file PostgreSQL
    /// asks for, at `<prefix>/<file name>` without metadata, is restored with the legacy flat
    /// layout enabled.
    public func everyKindOfFileIsFoundInTheLegacyFlatLayout() throws {
        let segment = segmentName(timeline: 1, number: 0x28)
        let history = "00000002.history"
        let historyText = "1\t0/29000000\tno recovery target specified\n"
        let backup = segment + ".00000028.backup"
        let backupText = "START WAL LOCATION: 0/28000028 (file \(segment))\nSTOP WAL LOCATION: 0/28000100 (file \(segment))\n"
            + "CHECKPOINT LOCATION: 0/28000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n"
        let partial = segmentName(timeline: 1, number: 0x29) + ".partial"
        let scratch = try makeTemporaryDirectory(test, "flat")
        let segmentBytes = try TestSegments.writeSegment(name: segment, in: scratch, segmentSize: 1 << 20).bytes
        let partialBytes = try TestSegments.writeSegment(name: partial, in: scratch, segmentSize: 1 << 20).bytes
        let files: [(String, [UInt8])] = [(segment, Array(segmentBytes)), (history, Array(historyText.utf8)),
                                          (backup, Array(backupText.utf8)), (partial, Array(partialBytes))]
        for (name, bytes) in files {
            try putBytes(store, key: layout.legacyKey(name: name, suffix: ""), bytes)
        }
        for (name, bytes) in files {
            try fetcher(legacyFlatLayout: true).restore(name: name, to: destination)
            XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: destination))), bytes, name)
            try FileManager.default.removeItem(atPath: destination)
        }
        XCTAssertThrowsError(try fetcher().restore(name: history, to: destination), "found without the legacy layout enabled")
    }

    /// One name, one content, through the library: a different file of the same system under
    /// an archived name, on a later date and with another compression, is refused (its claim
    /// exists) and nothing of it is stored.
    public func aDifferentFileIsRefusedWhateverItsDateAndCompression() throws {
        let name = segmentName(timeline: 1, number: 0x30)
        let first = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", segmentSize: 1 << 20, seed: 1)
        try TestSegments.setModificationTime(first.path, UTCTime(secondsSinceEpoch: 1_767_225_600))
        guard case .stored(let key) = try pusher(.zstd).archive(path: first.path) else { return XCTFail() }
        let second = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", segmentSize: 1 << 20, seed: 2)
        try TestSegments.setModificationTime(second.path, UTCTime(secondsSinceEpoch: 1_767_225_600 + 3 * 86_400))
        for compression in [CompressionAlgorithm.gzip, .none, .zstd] {
            XCTAssertThrowsError(try pusher(compression).archive(path: second.path)) { error in
                guard let error = error as? ArchiveError, case .conflict = error else { return XCTFail("\(error)") }
                XCTAssertEqual(error.exitStatus, .conflictingArchive)
                XCTAssertTrue(error.message.contains(key), error.message)
            }
        }
        let keys = try store.list(prefix: layout.root, delimiter: nil, startAfter: nil, limit: 1000).keys
        XCTAssertEqual(keys.filter { $0.hasSuffix(name) || $0.contains(name + ".") }.sorted(),
                       [NameClaim.key(name: name, layout: layout), key].sorted())
        try fetcher().restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), first.bytes)
    }

    /// A push that died between its claim and its data leaves the claim alone: the next push
    /// of the same file stores the data under the claimed key (date and compression of the
    /// first attempt), and a fetch finds it through the claim.
    public func aClaimWithoutItsDataIsCompletedByTheNextPush() throws {
        let name = segmentName(timeline: 1, number: 0x31)
        let segment = try TestSegments.writeSegment(name: name, in: workspace + "/pg_wal", segmentSize: 1 << 20)
        let claimedKey = layout.segmentKey(name: name, date: "2026-02-03", suffix: ".gz")
        let size = Int64(segment.bytes.count)
        let claim = NameClaim(name: name, relativeKey: "2026-02-03/" + name + ".gz",
                              sha256Hex: SHA256Hasher.hash(segment.bytes).hexString, size: size, compression: .gzip)
        try putBytes(store, key: NameClaim.key(name: name, layout: layout), [], metadata: claim.metadata)
        XCTAssertEqual(try pusher(.zstd).archive(path: segment.path), .stored(key: claimedKey))
        XCTAssertEqual(try store.head(key: claimedKey)?.metadata[PayloadMetadata.compressionName], "gzip")
        try fetcher().restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), segment.bytes)
    }

    /// Names written without claims (by older versions, or copied in): a cold fetch that finds
    /// one under two suffixes with different content stops (255) naming both keys; with the
    /// same content it restores.
    public func unclaimedCopiesWithDifferentContentStopTheFetch() throws {
        let name = segmentName(timeline: 1, number: 0x32)
        let scratch = try makeTemporaryDirectory(test, "copies")
        let first = try TestSegments.writeSegment(name: name, in: scratch, segmentSize: 1 << 20, seed: 1)
        let second = try TestSegments.writeSegment(name: name, in: try makeTemporaryDirectory(test, "copies"), segmentSize: 1 << 20, seed: 2)
        let sameKeys = [layout.segmentKey(name: name, date: "2026-03-01", suffix: ""),
                        layout.segmentKey(name: name, date: "2026-03-01", suffix: ".zst")]
        let metadata = { (bytes: Data) in
            PayloadMetadata(algorithm: .none, originalSHA256Hex: SHA256Hasher.hash(bytes).hexString,
                            originalSize: Int64(bytes.count)).dictionary
        }
        try putBytes(store, key: sameKeys[0], Array(first.bytes), metadata: metadata(first.bytes))
        try putBytes(store, key: sameKeys[1], Array(second.bytes), metadata: metadata(second.bytes))
        XCTAssertThrowsError(try fetcher().restore(name: name, to: destination)) { error in
            guard let error = error as? RestoreError, case .ambiguous = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
            for key in sameKeys { XCTAssertTrue(error.message.contains(key), error.message) }
        }
        XCTAssertEqual(try walEntries(), [])
        try putBytes(store, key: sameKeys[1], Array(first.bytes), metadata: metadata(first.bytes))
        try fetcher().restore(name: name, to: destination)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), first.bytes)
    }

    /// A claim whose data disagrees with it (something wrote the data around wal-push): the fetch
    /// stops (255) naming both keys, and so does the next one: the data's key is never remembered
    /// as where the name is, which would let a later fetch take it without asking the claim.
    public func aClaimWhoseDataDisagreesStopsEveryFetch() throws {
        let name = segmentName(timeline: 1, number: 0x34)
        let claimed = try TestSegments.writeSegment(name: name, in: try makeTemporaryDirectory(test, "claimed"),
                                                    segmentSize: 1 << 20, seed: 1)
        let other = try TestSegments.writeSegment(name: name, in: try makeTemporaryDirectory(test, "other"),
                                                  segmentSize: 1 << 20, seed: 2)
        let claim = NameClaim(name: name, relativeKey: "2026-03-03/" + name, sha256Hex: SHA256Hasher.hash(claimed.bytes).hexString,
                              size: Int64(claimed.bytes.count), compression: .none)
        try putBytes(store, key: NameClaim.key(name: name, layout: layout), [], metadata: claim.metadata)
        try putBytes(store, key: claim.dataKey(layout), Array(other.bytes),
                     metadata: PayloadMetadata(algorithm: .none, originalSHA256Hex: SHA256Hasher.hash(other.bytes).hexString,
                                               originalSize: Int64(other.bytes.count)).dictionary)
        for attempt in 1...2 {
            XCTAssertThrowsError(try fetcher().restore(name: name, to: destination), "fetch \(attempt)") { error in
                guard let error = error as? RestoreError, case .ambiguous = error else { return XCTFail("fetch \(attempt): \(error)") }
                XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
                XCTAssertTrue(error.message.contains(claim.dataKey(layout)), error.message)
            }
        }
        XCTAssertEqual(try walEntries(), [])
    }

    /// Another system's segment under a name, written around wal-push (no claim): a fetch finds
    /// it and never writes it to %p (255, naming both systems).
    public func anotherSystemsSegmentIsNeverRestored() throws {
        let name = segmentName(timeline: 1, number: 0x33)
        let scratch = try makeTemporaryDirectory(test, "foreign")
        let foreign = try TestSegments.writeSegment(name: name, in: scratch, segmentSize: 1 << 20, systemIdentifier: 7_399_999_999_999_999_999)
        try putBytes(store, key: layout.segmentKey(name: name, date: "2026-03-02", suffix: ""), Array(foreign.bytes),
                     metadata: PayloadMetadata(algorithm: .none, originalSHA256Hex: SHA256Hasher.hash(foreign.bytes).hexString,
                                               originalSize: Int64(foreign.bytes.count)).dictionary)
        XCTAssertThrowsError(try fetcher().restore(name: name, to: destination)) { error in
            guard let error = error as? RestoreError, case .otherSystem = error else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
            XCTAssertTrue(error.message.contains("7399999999999999999") && error.message.contains(String(TestSegments.systemIdentifier)),
                          error.message)
        }
        XCTAssertEqual(try walEntries(), [])
    }

    /// Requests each push and fetch costs, counted at the store (docs/storage-layout.md).
    /// Returns the figures for the log.
    @discardableResult
    public func requestCostsOfPushAndFetch() throws -> [String: Int] {
        var costs: [String: Int] = [:]
        func measure(_ label: String, _ body: () throws -> Void) rethrows {
            store.resetCounts()
            try body()
            costs[label] = store.requests
        }
        let days = (0..<3).map { 1_767_225_600 + Int64($0) * 86_400 }
        var segments: [TestSegments.Segment] = []
        for (index, day) in [days[0], days[0], days[1]].enumerated() {
            let segment = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 0x40 + index), in: workspace + "/pg_wal",
                                                        segmentSize: 1 << 20)
            try TestSegments.setModificationTime(segment.path, UTCTime(secondsSinceEpoch: day))
            segments.append(segment)
        }
        try measure("push, new segment") { _ = try pusher().archive(path: segments[0].path) }
        XCTAssertEqual(costs["push, new segment"], 2)
        XCTAssertEqual(store.puts, 2)
        for segment in segments.dropFirst() { _ = try pusher().archive(path: segment.path) }
        try measure("push, already archived") { _ = try pusher().archive(path: segments[0].path) }
        XCTAssertEqual(costs["push, already archived"], 3)
        let conflicting = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 0x40), in: workspace + "/pg_wal",
                                                        segmentSize: 1 << 20, seed: 99)
        try measure("push, different file") { XCTAssertThrowsError(try pusher().archive(path: conflicting.path)) }
        XCTAssertEqual(costs["push, different file"], 2)
        let history = workspace + "/pg_wal/00000005.history"
        try "4\t0/40000000\tno recovery target specified\n".write(toFile: history, atomically: true, encoding: .utf8)
        try measure("push, history file") { _ = try pusher().archive(path: history) }
        XCTAssertEqual(costs["push, history file"], 1)

        let check = ArchiveIdentityCheck(store: store, storeIdentity: storeIdentity, 
                                         cacheDirectory: WALDirectory(path: workspace + "/pg_wal").trustedStateDirectory(create: true))
        try measure("archive identity, first call") { _ = try check.identity() }
        XCTAssertEqual(costs["archive identity, first call"], 1)
        try measure("archive identity, later calls") { _ = try check.identity() }
        XCTAssertEqual(costs["archive identity, later calls"], storeIdentity.cachesArchiveIdentity ? 0 : 1)

        let hints = try makeTemporaryDirectory(test, "hints")
        let fetch = { (index: Int) throws -> Void in
            let locator = SegmentLocator(store: self.store, layout: self.layout, suffixes: CompressionAlgorithm.keySuffixes(preferring: ".zst"),
                                         searchesLegacyFlatLayout: false,
                                         hints: LocatorHints(directory: hints, storeIdentity: self.storeIdentity))
            XCTAssertNotNil(try locator.fetch(segmentName(timeline: 1, number: 0x40 + index), into: CollectingSink()))
        }
        try measure("fetch, cold (through the claim)") { try fetch(0) }
        XCTAssertEqual(costs["fetch, cold (through the claim)"], 2)
        try measure("fetch, next segment on the same date") { try fetch(1) }
        XCTAssertEqual(costs["fetch, next segment on the same date"], 1)
        try measure("fetch, next segment on a new date") { try fetch(2) }
        XCTAssertEqual(costs["fetch, next segment on a new date"], 3)
        let locator = SegmentLocator(store: store, layout: layout, suffixes: CompressionAlgorithm.keySuffixes(preferring: ".zst"),
                                     searchesLegacyFlatLayout: false, hints: LocatorHints(directory: hints, storeIdentity: storeIdentity))
        try measure("fetch, not archived (end of the archive)") {
            XCTAssertNil(try locator.fetch(segmentName(timeline: 1, number: 0x43), into: CollectingSink()))
        }
        XCTAssertEqual(costs["fetch, not archived (end of the archive)"], 4)
        print("requests per call (\(storeIdentity.url)): " + costs.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            .joined(separator: "; "))
        return costs
    }
}

/// Counts the body bytes offered in PUT requests (an empty claim offers none).
public final class UploadRecordingStore: ForwardingObjectStore {
    public let base: any ObjectStore
    public private(set) var bytesOffered: Int64 = 0

    public init(_ base: any ObjectStore) { self.base = base }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        bytesOffered += request.length
        return try base.put(request)
    }
}

/// A store in front of a real one that answers conditional PUTs as a server without
/// `If-None-Match` support does (501 NotImplemented).
public final class ConditionalWriteRefusingStore: ForwardingObjectStore {
    public let base: any ObjectStore
    public var refusals = 0

    public init(_ base: any ObjectStore) { self.base = base }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        if request.ifAbsent {
            refusals += 1
            throw .rejected(status: 501, code: "NotImplemented", message: "A header you provided implies functionality that is not implemented",
                            requestID: "test")
        }
        return try base.put(request)
    }
}
