import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The built `wal-fetch` in archive recovery against the signature-checking local S3 server,
/// through a FaultProxy that records every request: when the prefetch worker starts, and
/// what a second request for the segment just served costs.
final class PrefetchCommandS3Tests: BuiltToolTestCase {
    /// 1 MiB segments keep the test quick.
    static let segmentSize = 1 << 20

    private var server: LocalS3Server!
    private var proxy: FaultProxy!
    private var prefix = ""
    private var segments: [String: Data] = [:]

    private var prefetchDirectory: String { walDirectory + "/.wal-archive/prefetch" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("prefetch-command").dropLast())
        proxy = try FaultProxy(upstream: server.endpoint)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        try TestArchives.initialize(environment: environment())
    }

    override func tearDownWithError() throws {
        // The detached workers this test caused end before its directories are removed.
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        proxy?.stop()
        try super.tearDownWithError()
    }

    /// Through the proxy. The budget outlasts any trickled body a test waits on (each attempt's
    /// deadline is what is left of it).
    private func environment() -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": proxy?.endpoint ?? server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey,
         "WAL_ARCHIVE_RETRY_BUDGET": "600", "WAL_ARCHIVE_PREFETCH": "2"]
    }

    /// Archives segments 1…`count` of timeline 1 uncompressed (a body as large as the segment).
    private func archiveSegments(_ count: Int) throws {
        let s3 = try S3Store(settings: server.settings())
        let storeIdentity = StoreIdentity(destination: .s3(server.settings()), prefix: prefix)
        let pusher = ArchiveOperation(store: s3, storeIdentity: storeIdentity, archiveIdentity: TestArchives.identity,
                                      compression: .none)
        let source = try makeTemporaryDirectory(self, "prefetch-command-source")
        for number in 1...count {
            let name = segmentName(timeline: 1, number: number)
            let segment = try TestSegments.writeSegment(name: name, in: source, segmentSize: Self.segmentSize)
            _ = try pusher.archive(path: segment.path)
            segments[name] = segment.bytes
        }
    }

    /// The segments of the files in the prefetch directory, sorted.
    private func prefetched() throws -> [String] {
        guard FileManager.default.fileExists(atPath: prefetchDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: prefetchDirectory).map { String($0.prefix(24)) }.sorted()
    }

    /// Requests the server was sent for `name`'s objects (its claim and its data; not listings).
    private func requests(for name: String) -> [FaultProxy.Record] {
        proxy.records.filter { $0.target.contains(name) && !$0.target.contains("?") }
    }

    func testTheWorkerStartsWhileTheCallDownloadsItsOwnSegment() throws {
        try archiveSegments(4)
        let first = segmentName(timeline: 1, number: 1)
        // The call's own segment arrives at 2 KiB/s (just above the low-speed limit): its 1 MiB
        // body takes minutes, so the call is still downloading it when the worker's files are in.
        proxy.script([.trickle(bytesPerSecond: 2048)], filter: .init(methods: ["GET"], objectsOnly: true, targetContains: first))
        try FileManager.default.createDirectory(atPath: prefetchDirectory, withIntermediateDirectories: true)
        let events = try DirectoryEvents(watching: [prefetchDirectory])
        let (fetch, _, _) = try launch("wal-fetch", [first, "pg_wal/RECOVERYXLOG"], environment: environment())
        defer {
            if fetch.isRunning { kill(fetch.processIdentifier, SIGTERM) }
            fetch.waitUntilExit()
        }
        // K=2 counts 16 MiB segments: the window of these 1 MiB ones reaches past segment 4.
        let expected = (2...4).map { segmentName(timeline: 1, number: $0) }
        let arrived = try events.wait { try prefetched() == expected }
        let found = try prefetched()
        XCTAssertTrue(arrived, "no worker fetched the next segments while the call downloaded its own; found \(found)")
        XCTAssertTrue(fetch.isRunning, "the call finished its own 1 MiB body at 2 KiB/s already")
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
        // The worker started at the next segment: the call's own was requested by the call alone.
        XCTAssertEqual(requests(for: first).filter { $0.method == "GET" }.count, 1)
        // The call wrote where its segment is before the worker started: one GET per segment,
        // no HEAD of their claims first.
        XCTAssertEqual(expected.flatMap { requests(for: $0).map(\.method) }, ["GET", "GET", "GET"])
        for name in expected {
            let path = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: prefetchDirectory).first { $0.hasPrefix(name) })
            XCTAssertEqual(FileManager.default.contents(atPath: prefetchDirectory + "/" + path), segments[name])
        }
    }

    func testAStandbyAskingPastTheEndStartsNoWorker() throws {
        try archiveSegments(1)
        try FileManager.default.removeItem(atPath: dataDirectory + "/recovery.signal")
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
        let next = segmentName(timeline: 1, number: 2)
        for _ in 0..<3 {
            let missing = try run("wal-fetch", [next, "pg_wal/RECOVERYXLOG"], environment: environment())
            XCTAssertEqual(missing.status, 1, missing.stderr)
        }
        // A worker would have taken the lock (created with the state directory by every call).
        XCTAssertNil(PrefetchWorkers.holder(walDirectory: walDirectory))
        XCTAssertEqual(try prefetched(), [])
        XCTAssertFalse(proxy.records.contains { $0.target.contains(segmentName(timeline: 1, number: 3)) },
                       "a worker asked for the segment after the missing one")
    }

    func testASecondRequestForTheServedSegmentSendsNoRequest() throws {
        try archiveSegments(3)
        let first = segmentName(timeline: 1, number: 1)
        let second = segmentName(timeline: 1, number: 2)
        let download = try run("wal-fetch", [first, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(download.status, 0, download.stderr)
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        XCTAssertEqual(try prefetched(), [2, 3].map { segmentName(timeline: 1, number: $0) })

        let served = try run("wal-fetch", [second, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(served.status, 0, served.stderr)
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        // As PostgreSQL does with a restored segment (KeepFileRestoredFromArchive).
        XCTAssertEqual(rename(walDirectory + "/RECOVERYXLOG", walDirectory + "/" + second), 0)
        let before = requests(for: second).count

        // At promotion PostgreSQL asks for the last segment it restored again.
        let again = try run("wal-fetch", [second, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG"), segments[second])
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        XCTAssertEqual(requests(for: second).count, before, "the segment served before was requested from the server again")
    }
}
