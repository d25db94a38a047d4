import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The prefetch worker's batch against the signature-checking local S3 server.
final class PrefetchS3Tests: XCTestCase {
    /// 1 MiB segments keep the test quick.
    static let segmentSize = 1 << 20

    func testBatchAgainstLocalS3() throws {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix("prefetch").dropLast())
        let s3 = try S3Store(settings: server.settings())
        let source = try makeTemporaryDirectory(self, "prefetch-s3-source")
        let dataDirectory = try makeTemporaryDirectory(self, "prefetch-s3-pgdata")
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        let storeIdentity = StoreIdentity(destination: .s3(server.settings()), prefix: prefix)
        try TestArchives.create(in: s3, storeIdentity: storeIdentity)
        let pusher = ArchiveOperation(store: s3, storeIdentity: storeIdentity, archiveIdentity: TestArchives.identity)
        for number in 1...4 {
            let segment = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: number), in: source,
                                                        segmentSize: Self.segmentSize)
            _ = try pusher.archive(path: segment.path)
        }
        // Three connections at once, as the worker uses them; the end of the archive is quiet.
        let stores: [any ObjectStore] = [s3, try S3Store(settings: server.settings()), try S3Store(settings: server.settings())]
        let prefetch = try XCTUnwrap(RestorePrefetch(count: 8, name: segmentName(timeline: 1, number: 1),
                                                     destination: dataDirectory + "/pg_wal/RECOVERYXLOG", storeIdentity: storeIdentity))
        XCTAssertEqual(PrefetchWorker(prefetch: prefetch).runBatch(stores: stores, archiveIdentity: TestArchives.identity,
                                                                   searchesLegacyFlatLayout: false,
                                         preferredSuffix: ".zst", segmentSize: try XCTUnwrap(WALSegmentSize(bytes: Self.segmentSize))), 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: prefetch.directory).count, 3)
        let next = try XCTUnwrap(RestorePrefetch(count: 8, name: segmentName(timeline: 1, number: 2),
                                                 destination: dataDirectory + "/pg_wal/RECOVERYXLOG", storeIdentity: storeIdentity))
        XCTAssertNotNil(next.serve())
        // Segment 2's file stays (a link of %p) until the next segment is served.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: prefetch.directory).count, 3)
    }
}
