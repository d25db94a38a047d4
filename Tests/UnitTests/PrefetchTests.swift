import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Restore prefetch: the worker's batch, serving from the prefetch directory, cleanup, and the
/// detached worker started by the built `wal-fetch` with an empty PATH.
final class PrefetchTests: XCTestCase {
    typealias Cluster = PrefetchTestCluster
    static let segmentSize = Cluster.segmentSize

    func makeCluster(count: Int, signal: String? = "recovery.signal") throws -> Cluster {
        try Cluster.make(self, count: count, signal: signal)
    }

    func prefetch(_ cluster: Cluster, count: Int, after number: Int) throws -> RestorePrefetch {
        try cluster.prefetch(count: count, after: number)
    }

    func runBatch(_ prefetch: RestorePrefetch, _ cluster: Cluster, store: any ObjectStore) throws -> Int {
        try cluster.runBatch(prefetch, store: store)
    }

    func testTheConfiguredWindowHoldsTheBytesOfKDefaultSizeSegments() throws {
        let cluster = try makeCluster(count: 2)
        var environment = cluster.environment
        environment["WAL_ARCHIVE_PREFETCH"] = "2"
        let configuration = try Configuration.load(options: CommandLineOptions(), environment: environment)
        let configured = try XCTUnwrap(RestorePrefetch(configuration: configuration, name: segmentName(timeline: 1, number: 1),
                                                       destination: cluster.destination))
        let oneMiB = try XCTUnwrap(WALSegmentSize(bytes: 1 << 20))
        XCTAssertEqual(configured.window(segmentSize: oneMiB), 32)
        XCTAssertEqual(configured.wantedSegments(segmentSize: oneMiB).map(\.description),
                       (2...33).map { segmentName(timeline: 1, number: $0) })
        XCTAssertEqual(configured.window(segmentSize: try XCTUnwrap(WALSegmentSize(bytes: 16 << 20))), 2)
        XCTAssertEqual(configured.window(segmentSize: try XCTUnwrap(WALSegmentSize(bytes: 64 << 20))), 2)
        XCTAssertEqual(try prefetch(cluster, count: 2, after: 1).window(segmentSize: oneMiB), 2, "K segments when asked so")
    }

    func testBatchFetchesTheNextSegmentsAndLaterCallsAreServedFromThem() throws {
        let cluster = try makeCluster(count: 6)
        let store = CountingObjectStore(DirectoryStore(root: cluster.archiveRoot))
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 3, after: 1), cluster, store: store), 3)
        XCTAssertEqual(store.gets, 3)
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, (2...4).map { segmentName(timeline: 1, number: $0) })

        // The foreground takes segment 2 by rename: no request, exact bytes; the file stays
        // (linked, for a second request) until the next segment is served.
        for number in 2...4 {
            let name = segmentName(timeline: 1, number: number)
            var environment = cluster.environment
            environment["WAL_ARCHIVE_PREFETCH"] = "3"
            XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: environment), 0)
            XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
            XCTAssertEqual(try cluster.prefetched().first.map { String($0.prefix(24)) }, name)
        }
        // A second batch only fetches what is missing, and is bounded by K; 4, served last, stays.
        store.resetCounts()
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 3, after: 4), cluster, store: store), 2)
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [4, 5, 6].map { segmentName(timeline: 1, number: $0) })
    }

    func testServingVerifiesTheFileAndADamagedOneIsRemovedAndFetchedNormally() throws {
        let cluster = try makeCluster(count: 3)
        let store = DirectoryStore(root: cluster.archiveRoot)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 2, after: 1), cluster, store: store), 2)
        let name = segmentName(timeline: 1, number: 2)
        let file = try XCTUnwrap(try cluster.prefetched().first { $0.hasPrefix(name) })
        // A torn write: same name, last bytes lost.
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: cluster.prefetchDirectory + "/" + file))
        try handle.truncate(atOffset: UInt64(Self.segmentSize - 4096))
        try handle.close()

        XCTAssertNil(try prefetch(cluster, count: 2, after: 2).serve())
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.prefetchDirectory + "/" + file))
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.destination))
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])

        // Same size, one byte changed: the SHA-256 in its name catches it.
        let third = segmentName(timeline: 1, number: 3)
        let thirdFile = try XCTUnwrap(try cluster.prefetched().first { $0.hasPrefix(third) })
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: cluster.prefetchDirectory + "/" + thirdFile))
        bytes[Self.segmentSize - 1] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: cluster.prefetchDirectory + "/" + thirdFile))
        XCTAssertNil(try prefetch(cluster, count: 2, after: 3).serve())
        XCTAssertEqual(try cluster.prefetched(), [])
    }

    func testWrongTimelineStaleForeignAndExtraFilesAreRemoved() throws {
        let cluster = try makeCluster(count: 5)
        let store = DirectoryStore(root: cluster.archiveRoot)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 4, after: 1), cluster, store: store), 4)
        let tag = cluster.storeIdentity.tag
        let sha = String(repeating: "a", count: 64)
        let strays = [segmentName(timeline: 2, number: 4) + "." + tag + "." + sha,
                      segmentName(timeline: 1, number: 4) + ".0123456789abcdef." + sha,
                      "garbage",
                      TemporaryFileCleanup.name(pid: 999_999_999)]
        for stray in strays {
            XCTAssertTrue(FileManager.default.createFile(atPath: cluster.prefetchDirectory + "/" + stray, contents: Data([1, 2, 3])))
        }
        // Asked for segment 3 with K = 1: 2 is stale, 5 is beyond the window; 3's file is the
        // requested segment's (kept for a second request).
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 1, after: 3), cluster, store: store), 0)
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [3, 4].map { segmentName(timeline: 1, number: $0) })
    }

    func testMissAtTheEndOfTheArchiveStopsQuietly() throws {
        let cluster = try makeCluster(count: 2)
        let store = CountingObjectStore(DirectoryStore(root: cluster.archiveRoot))
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 4, after: 1), cluster, store: store), 1)
        XCTAssertEqual(try cluster.prefetched().count, 1)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 4, after: 2), cluster, store: store), 0)
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [segmentName(timeline: 1, number: 2)],
                       "only the requested segment's file (kept for a second request) stays")
    }

    func testACallWaitsForTheRunningWorkerThatFetchesItsSegment() throws {
        let cluster = try makeCluster(count: 3)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 2, after: 1), cluster,
                                    store: DirectoryStore(root: cluster.archiveRoot)), 2)
        let name = segmentName(timeline: 1, number: 2)
        let file = try XCTUnwrap(try cluster.prefetched().first { $0.hasPrefix(name) })
        let staged = cluster.dataDirectory + "/staged"
        try FileManager.default.moveItem(atPath: cluster.prefetchDirectory + "/" + file, toPath: staged)
        // Gone from the archive: only the worker's file can make this call succeed.
        let layout = StorageLayout(prefix: "")
        let key = try XCTUnwrap(try DirectoryStore(root: cluster.archiveRoot)
            .list(prefix: layout.root, delimiter: nil, startAfter: nil, limit: 100).keys.first { $0.contains(name) })
        try DirectoryStore(root: cluster.archiveRoot).delete(key: key)

        // A "worker" holds the lock, announces segments 2…3, and delivers 2 a moment later.
        let lock = open(cluster.walDirectory + "/.wal-archive/prefetch.lock", O_RDWR | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(lock, 0)
        defer { close(lock) }
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)
        let window = Array((name + " " + segmentName(timeline: 1, number: 3) + "\n").utf8)
        XCTAssertEqual(window.withUnsafeBytes { pwrite(lock, $0.baseAddress, $0.count, 0) }, window.count)
        // The call runs on another thread; once it has listed the prefetch directory twice (its
        // own check, then the first check while waiting on the held lock) it is waiting for the
        // worker, and only then does the "worker" deliver segment 2.
        let directoryOpened = try DirectoryEvents(watching: [cluster.prefetchDirectory], mask: DirectoryEvents.opened)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status: Int32 = -1
        Thread.detachNewThread {
            status = FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment)
            finished.signal()
        }
        XCTAssertTrue(directoryOpened.waitForEvents(count: 2), "the call never looked for the worker's file")
        XCTAssertEqual(finished.wait(timeout: .now()), .timedOut, "the call returned without waiting for the worker")
        XCTAssertEqual(rename(staged, cluster.prefetchDirectory + "/" + file), 0)
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])

        // Without a worker announcing it, the same call does not wait: not in the archive (once
        // the served file kept for a second request is gone).
        flock(lock, LOCK_UN)
        for file in try cluster.prefetched() { try FileManager.default.removeItem(atPath: cluster.prefetchDirectory + "/" + file) }
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
    }

    func testTheWorkerReportsTheSegmentItGaveUpAtAndTheLockNarrowsItsWindow() throws {
        // The archive ends at segment 3; the batch wants 2…5 on one connection.
        let cluster = try makeCluster(count: 3)
        let prefetch = try prefetch(cluster, count: 4, after: 1)
        let givenUp = GivenUpSegments()
        let placed = PrefetchWorker(prefetch: prefetch)
            .runBatch(stores: [DirectoryStore(root: cluster.archiveRoot)], archiveIdentity: TestArchives.identity,
                      searchesLegacyFlatLayout: false, preferredSuffix: CompressionAlgorithm.default.keySuffix,
                      segmentSize: try XCTUnwrap(WALSegmentSize(bytes: Self.segmentSize)),
                      givingUp: { givenUp.append($0.description) })
        XCTAssertEqual(placed, 2)
        XCTAssertEqual(givenUp.names, [segmentName(timeline: 1, number: 4)])

        let lock = try XCTUnwrap(PrefetchWorkerLock(walDirectory: WALDirectory(path: cluster.walDirectory)))
        lock.announce(first: segmentName(timeline: 1, number: 2), last: segmentName(timeline: 1, number: 6))
        lock.narrow(toLast: segmentName(timeline: 1, number: 4))
        XCTAssertEqual(lock.announcedWindow()?.last, segmentName(timeline: 1, number: 4))
        // Only ever narrows: another thread giving up later in the window changes nothing.
        lock.narrow(toLast: segmentName(timeline: 1, number: 5))
        XCTAssertEqual(lock.announcedWindow()?.first, segmentName(timeline: 1, number: 2))
        XCTAssertEqual(lock.announcedWindow()?.last, segmentName(timeline: 1, number: 4))
        lock.narrow(toLast: nil)
        XCTAssertNil(lock.announcedWindow())
    }

    func testACallDoesNotWaitForASegmentTheRunningWorkerGaveUp() throws {
        let cluster = try makeCluster(count: 3)
        let name = segmentName(timeline: 1, number: 4)  // past the end of the archive
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 1, after: 1), cluster,
                                    store: DirectoryStore(root: cluster.archiveRoot)), 1)
        // Each listing of the prefetch directory is an open and a close: counted apart.
        let listings = DirectoryEvents.opened | DirectoryEvents.closedUnwritten

        // No worker: the call looks for a prefetched file and asks the archive.
        let alone = try DirectoryEvents(watching: [cluster.prefetchDirectory], mask: listings)
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
        let listedAlone = alone.pendingEvents()

        // A worker holds the lock; its window held the segment, and then it gave up at it (the
        // archive did not have it) while the rest of its batch went on. A call still waiting for
        // it would list the prefetch directory again every few milliseconds until the lock is free.
        let worker = try XCTUnwrap(PrefetchWorkerLock(walDirectory: WALDirectory(path: cluster.walDirectory)))
        XCTAssertTrue(worker.acquire())
        defer { worker.release() }
        worker.announce(first: segmentName(timeline: 1, number: 3), last: segmentName(timeline: 1, number: 5))
        worker.narrow(toLast: segmentName(timeline: 1, number: 3))
        let beside = try DirectoryEvents(watching: [cluster.prefetchDirectory], mask: listings)
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
        XCTAssertLessThanOrEqual(beside.pendingEvents(), listedAlone, "the call waited for the worker")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.destination))
    }

    /// What a batch's threads report giving up, in order.
    final class GivenUpSegments: @unchecked Sendable {
        private let lock = NSLock()
        private var reported: [String] = []

        func append(_ name: String) { lock.withLock { reported.append(name) } }
        var names: [String] { lock.withLock { reported } }
    }

    func testTheWorkerRemovesEverythingWhenRecoveryHasEnded() throws {
        let cluster = try makeCluster(count: 4)
        let store = DirectoryStore(root: cluster.archiveRoot)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 1, after: 1), cluster, store: store), 1)
        let next = try prefetch(cluster, count: 3, after: 1)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory + "/recovery.signal")
        XCTAssertEqual(try runBatch(next, cluster, store: store), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.prefetchDirectory))
    }

    func testWalPushRemovesPrefetchedFilesLeftAfterRecovery() throws {
        let cluster = try makeCluster(count: 3)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 2, after: 1), cluster,
                                    store: DirectoryStore(root: cluster.archiveRoot)), 2)
        // Still in recovery (archive_mode = always on a standby): left alone.
        let name = segmentName(timeline: 1, number: 9)
        _ = try TestSegments.writeSegment(name: name, in: cluster.walDirectory, segmentSize: Self.segmentSize)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.walDirectory + "/" + name], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.prefetched().count, 2)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory + "/recovery.signal")
        XCTAssertEqual(PushCommand.run(arguments: [cluster.walDirectory + "/" + name], environment: cluster.environment), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.prefetchDirectory))
    }

    func testOnlyPostgreSQLsOwnArchiveRecoveryPrefetches() throws {
        let recovering = try makeCluster(count: 1)
        let name = segmentName(timeline: 1, number: 1)
        XCTAssertNotNil(RestorePrefetch(count: 8, name: name, destination: recovering.destination, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
        XCTAssertNil(RestorePrefetch(count: 0, name: name, destination: recovering.destination, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
        // pg_rewind --restore-target-wal restores into pg_wal/<segment name>.
        XCTAssertNil(RestorePrefetch(count: 8, name: name, destination: recovering.walDirectory + "/" + name, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
        XCTAssertNil(RestorePrefetch(count: 8, name: "00000002.history", destination: recovering.destination, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
        let idle = try makeCluster(count: 1, signal: nil)
        XCTAssertNil(RestorePrefetch(count: 8, name: name, destination: idle.destination, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
        let standby = try makeCluster(count: 1, signal: "standby.signal")
        XCTAssertNotNil(RestorePrefetch(count: 8, name: name, destination: standby.destination, storeIdentity: StoreIdentity(backend: .directory(root: "/x"), prefix: "")))
    }

    func testPrefetchCountSetting() throws {
        let base = ["WAL_ARCHIVE_URL": "file:///tmp"]
        func load(_ environment: [String: String]) throws -> Configuration {
            try Configuration.load(options: CommandLineOptions(),
                                   environment: HermeticEnvironment.merged(with: base.merging(environment) { $1 }))
        }
        XCTAssertEqual(try load([:]).prefetchCount, Configuration.defaultPrefetchCount)
        XCTAssertEqual(try load(["WAL_ARCHIVE_PREFETCH": "0"]).prefetchCount, 0)
        XCTAssertEqual(try load(["WAL_ARCHIVE_PUSH_AHEAD": "7"]).pushAheadConcurrency, 7)
        XCTAssertThrowsError(try load(["WAL_ARCHIVE_PREFETCH": "-1"]))
        XCTAssertThrowsError(try load(["WAL_ARCHIVE_PUSH_AHEAD": "1000"]))
    }

    // MARK: The built executable

    func runBuilt(_ arguments: [String], environment: [String: String], in directory: String) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = TestPaths.builtProducts.appendingPathComponent("wal-fetch")
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// Waits for the detached worker's result (it runs after `wal-fetch` returned): re-checked
    /// at every change in the prefetch directory.
    func waitForPrefetched(_ cluster: Cluster, _ numbers: [Int], events: DirectoryEvents) throws {
        let expected = numbers.map { segmentName(timeline: 1, number: $0) }
        let arrived = try events.wait { try cluster.prefetched().map { String($0.prefix(24)) } == expected }
        let found = try cluster.prefetched()
        XCTAssertTrue(arrived, "the prefetch worker did not fetch \(expected); found \(found)")
    }

    func testBuiltWalFetchStartsItsWorkerWithAnEmptyPath() throws {
        let cluster = try makeCluster(count: 4)
        var environment = cluster.environment
        environment["PATH"] = ""
        environment["WAL_ARCHIVE_PREFETCH"] = "2"
        try FileManager.default.createDirectory(atPath: cluster.prefetchDirectory, withIntermediateDirectories: true)
        let events = try DirectoryEvents(watching: [cluster.prefetchDirectory])
        let first = segmentName(timeline: 1, number: 1)
        let result = try runBuilt([first, "pg_wal/RECOVERYXLOG"], environment: environment, in: cluster.dataDirectory)
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        // K=2 counts 16 MiB segments: with these 1 MiB ones the window reaches past the last
        // archived segment, 4.
        try waitForPrefetched(cluster, [2, 3, 4], events: events)

        // The next call is served from the prefetch directory (its file stays for a second
        // request), and the new worker finds nothing more to fetch; past the end it stays silent.
        let second = segmentName(timeline: 1, number: 2)
        let served = try runBuilt([second, "pg_wal/RECOVERYXLOG"], environment: environment, in: cluster.dataDirectory)
        XCTAssertEqual(served.status, 0)
        XCTAssertEqual(served.stderr, "")
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[second])
        try waitForPrefetched(cluster, [2, 3, 4], events: events)

        // pg_rewind-style %p: restored, but no worker and nothing new in the prefetch directory.
        let rewind = try runBuilt([first, "pg_wal/" + first], environment: environment, in: cluster.dataDirectory)
        XCTAssertEqual(rewind.status, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.walDirectory + "/" + first), cluster.segments[first])
        XCTAssertEqual(try cluster.prefetched().count, 3)
    }

    func testAServedCallListsThePrefetchDirectoryOnce() throws {
        let cluster = try makeCluster(count: 4)
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 3, after: 1), cluster,
                                    store: DirectoryStore(root: cluster.archiveRoot)), 3)
        var environment = cluster.environment
        environment["WAL_ARCHIVE_PREFETCH"] = "1"
        // A worker "runs" (the lock is held): the call, with 2 of its 16 files ahead, would
        // start one and must decide not to, so no other process lists the directory.
        let lock = open(cluster.walDirectory + "/.wal-archive/prefetch.lock", O_RDWR | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(lock, 0)
        defer { close(lock) }
        XCTAssertEqual(flock(lock, LOCK_EX | LOCK_NB), 0)
        let listings = try DirectoryEvents(watching: [cluster.prefetchDirectory],
                                           mask: DirectoryEvents.opened | DirectoryEvents.closedUnwritten)
        let name = segmentName(timeline: 1, number: 2)
        let served = try runBuilt([name, "pg_wal/RECOVERYXLOG"], environment: environment, in: cluster.dataDirectory)
        XCTAssertEqual(served.status, 0, served.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
        // One open and one close: the listing that cleans the directory, finds the segment and
        // counts the files ahead is the only one.
        XCTAssertEqual(listings.pendingEvents(), 2, "the served call listed the prefetch directory more than once")
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [2, 3, 4].map { segmentName(timeline: 1, number: $0) })
    }

    func testTheFilesAheadAreCountedAsTheWindowsNamesWouldBe() throws {
        let cluster = try makeCluster(count: 1)
        let prefetch = try prefetch(cluster, count: 4, after: 0x28)
        let size = try XCTUnwrap(WALSegmentSize(bytes: Self.segmentSize))
        let tag = cluster.storeIdentity.tag
        let sha = String(repeating: "b", count: 64)
        func file(_ timeline: Int, _ number: Int, tag: String = tag) -> String {
            segmentName(timeline: timeline, number: number) + "." + tag + "." + sha
        }
        let names = [file(1, 0x28), file(1, 0x29), file(1, 0x2B), file(1, 0x2C), file(1, 0x2D), file(2, 0x2A),
                     file(1, 0x2A, tag: "0123456789abcdef"), segmentName(timeline: 1, number: 0x2A).lowercased() + "." + tag + "." + sha,
                     segmentName(timeline: 1, number: 0x2A), TemporaryFileCleanup.name(), "garbage"]
        // The definition: names of the window's segments, made one by one.
        let wanted = Set(prefetch.wantedSegments(segmentSize: size).map { $0.description + "." + tag + "." })
        XCTAssertEqual(wanted.count, 4)
        let expected = names.filter { $0.count > 42 && wanted.contains(String($0.prefix(42))) }.count
        XCTAssertEqual(expected, 3, "0x29, 0x2B and 0x2C of this timeline and archive")
        XCTAssertEqual(prefetch.readyCount(among: names, segmentSize: size), expected)
        // Across the end of a log file (…000000FF → …0000010000000000 with 16 MiB segments).
        let sixteen = try XCTUnwrap(WALSegmentSize(bytes: 16 << 20))
        let atEnd = try XCTUnwrap(RestorePrefetch(count: 3, name: "0000000100000000000000FE", destination: cluster.destination,
                                                  storeIdentity: cluster.storeIdentity))
        let across = ["0000000100000000000000FF", "000000010000000100000000", "000000010000000100000001",
                      "000000010000000100000002"].map { $0 + "." + tag + "." + sha }
        XCTAssertEqual(atEnd.readyCount(among: across, segmentSize: sixteen), 3)
    }

    /// Segment 2 served from the prefetch directory and renamed by "PostgreSQL" to pg_wal/<2>,
    /// as it does with every restored segment; then the archive loses segment 2, so only the
    /// prefetch directory can serve it again.
    func serveSecondSegmentAndForgetIt(_ cluster: Cluster) throws -> String {
        XCTAssertEqual(try runBatch(try prefetch(cluster, count: 2, after: 1), cluster,
                                    store: DirectoryStore(root: cluster.archiveRoot)), 2)
        let name = segmentName(timeline: 1, number: 2)
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(rename(cluster.destination, cluster.walDirectory + "/" + name), 0)
        let key = try XCTUnwrap(try DirectoryStore(root: cluster.archiveRoot)
            .list(prefix: StorageLayout(prefix: "").root, delimiter: nil, startAfter: nil, limit: 100).keys.first { $0.contains(name) })
        try DirectoryStore(root: cluster.archiveRoot).delete(key: key)
        return name
    }

    func testTheLastServedSegmentIsServedAgainUntilTheNextOneIs() throws {
        let cluster = try makeCluster(count: 3)
        let name = try serveSecondSegmentAndForgetIt(cluster)
        // At promotion PostgreSQL asks for the last segment it restored again.
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
        // A caller that left `%p` (the same file) in place gets it again too, never a partial one.
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [2, 3].map { segmentName(timeline: 1, number: $0) })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cluster.walDirectory)
            .filter { $0.hasPrefix(TemporaryFileCleanup.prefix) }, [])

        // Serving the next segment removes it.
        let third = segmentName(timeline: 1, number: 3)
        XCTAssertEqual(FetchCommand.run(arguments: [third, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.prefetched().map { String($0.prefix(24)) }, [third])
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
    }

    func testAServedSegmentWrittenSinceIsNotServedAgain() throws {
        let cluster = try makeCluster(count: 3)
        let name = try serveSecondSegmentAndForgetIt(cluster)
        // PostgreSQL recycles the file as a future segment and writes new WAL into it.
        let recycled = cluster.walDirectory + "/" + segmentName(timeline: 1, number: 9)
        XCTAssertEqual(rename(cluster.walDirectory + "/" + name, recycled), 0)
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: recycled))
        try handle.seek(toOffset: UInt64(Self.segmentSize / 2))
        try handle.write(contentsOf: Data([0x5a]))
        try handle.close()
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.destination))
        XCTAssertFalse(try cluster.prefetched().contains { $0.hasPrefix(name) })
    }

    func testAServedSegmentWithAnotherNameIsNotServedAgain() throws {
        let cluster = try makeCluster(count: 3)
        let name = try serveSecondSegmentAndForgetIt(cluster)
        // Unchanged, but also a recycled future segment: it could be written while PostgreSQL reads it.
        let recycled = cluster.walDirectory + "/" + segmentName(timeline: 1, number: 9)
        XCTAssertEqual(link(cluster.walDirectory + "/" + name, recycled), 0)
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.destination))
        XCTAssertEqual(FileManager.default.contents(atPath: recycled), cluster.segments[name])
    }

    func testAStrayWorkerMarkerDoesNotStopARealFetch() throws {
        let cluster = try makeCluster(count: 1)
        var environment = cluster.environment
        environment[PrefetchWorker.environmentName] = String(Self.segmentSize)
        let name = segmentName(timeline: 1, number: 1)
        // As PostgreSQL runs it: a child of a shell, so not a session leader (the worker is one).
        let fetch = Process()
        fetch.executableURL = URL(fileURLWithPath: "/bin/sh")
        fetch.arguments = ["-c", "\"$0\" \"$@\"; exit $?", TestPaths.builtProducts.appendingPathComponent("wal-fetch").path,
                           name, "pg_wal/RECOVERYXLOG"]
        fetch.environment = environment
        fetch.currentDirectoryURL = URL(fileURLWithPath: cluster.dataDirectory)
        try fetch.run()
        fetch.waitUntilExit()
        XCTAssertEqual(fetch.terminationStatus, 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
    }
}
