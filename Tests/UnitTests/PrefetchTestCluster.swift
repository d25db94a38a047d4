import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// What the prefetch tests start from: segments 1…N of timeline 1 archived in a directory
/// store, and an empty data directory in archive recovery (unless told otherwise). 1 MiB
/// segments keep the tests quick; names below 0x100 read the same for every size.
struct PrefetchTestCluster {
    static let segmentSize = 1 << 20

    var archiveRoot: String
    var dataDirectory: String
    var segments: [String: Data]

    var walDirectory: String { dataDirectory + "/pg_wal" }
    var destination: String { walDirectory + "/RECOVERYXLOG" }
    var prefetchDirectory: String { walDirectory + "/.wal-archive/prefetch" }
    var recordsDirectory: String { walDirectory + "/.wal-archive/prefetch-records" }
    var location: String { "file://" + archiveRoot }
    var storeIdentity: StoreIdentity { StoreIdentity(destination: .directory(root: archiveRoot), prefix: "") }
    var environment: [String: String] { HermeticEnvironment.merged(with: ["WAL_ARCHIVE_URL": location]) }

    /// Archives segments 1…`count` (in an initialised directory archive) and creates the data
    /// directory with `signal` (`recovery.signal`, `standby.signal`, or none).
    static func make(_ test: XCTestCase, count: Int, signal: String? = "recovery.signal") throws -> Self {
        let archiveRoot = try makeTemporaryDirectory(test, "prefetch-archive")
        let source = try makeTemporaryDirectory(test, "prefetch-source")
        let dataDirectory = try makeTemporaryDirectory(test, "prefetch-pgdata")
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal", withIntermediateDirectories: true)
        if let signal { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/" + signal, contents: Data())) }
        let segments = try TestArchives.archiveTestSegments(count, segmentSize: segmentSize, intoDirectory: archiveRoot, source: source)
        return Self(archiveRoot: archiveRoot, dataDirectory: dataDirectory, segments: segments)
    }

    /// The files in the prefetch directory, sorted (none when it does not exist).
    func prefetched() throws -> [String] {
        guard FileManager.default.fileExists(atPath: prefetchDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: prefetchDirectory).sorted()
    }

    /// The prefetched file of segment `number` (its name carries the archive tag and checksum).
    func prefetched(_ number: Int) throws -> String {
        let name = segmentName(timeline: 1, number: number)
        return try XCTUnwrap(try prefetched().first { $0.hasPrefix(name + ".") }, "segment \(number) was not prefetched")
    }

    /// The worker's records, sorted (none when their directory does not exist).
    func records() throws -> [String] {
        guard FileManager.default.fileExists(atPath: recordsDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: recordsDirectory).sorted()
    }

    /// The prefetch of the `count` segments after segment `number`.
    func prefetch(count: Int, after number: Int) throws -> RestorePrefetch {
        try XCTUnwrap(RestorePrefetch(count: count, name: segmentName(timeline: 1, number: number),
                                      destination: destination, storeIdentity: storeIdentity))
    }

    /// Runs the worker's batch of `prefetch` from `store` (default: this archive); the number of
    /// segments it placed.
    func runBatch(_ prefetch: RestorePrefetch, store: (any ObjectStore)? = nil) throws -> Int {
        PrefetchWorker(prefetch: prefetch)
            .runBatch(stores: [store ?? DirectoryStore(root: archiveRoot)], archiveIdentity: TestArchives.identity,
                      searchesLegacyFlatLayout: false, preferredSuffix: CompressionAlgorithm.default.keySuffix,
                      segmentSize: try XCTUnwrap(WALSegmentSize(bytes: Self.segmentSize)))
    }
}
