import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Retries against the signature-checking local S3 behind `FaultProxy`: storms of throttling
/// and resets are waited out within the time budget, bodies damaged on the way are
/// downloaded (or sent) again, an object damaged in the store is a hard error, and a server
/// that stalls or trickles is abandoned when the budget runs out.
final class FaultToleranceTests: BuiltToolTestCase {
    static let segmentSize = 1 << 20

    private var server: LocalS3Server!
    private var prefix = ""
    private var proxy: FaultProxy!

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("faults").dropLast())
        let proxy = try FaultProxy(upstream: server.endpoint)
        self.proxy = proxy
        addTeardownBlock { proxy.stop() }
        var direct = environment()
        direct["WAL_ARCHIVE_ENDPOINT"] = server.endpoint
        try TestArchives.initialize(environment: direct)
    }

    /// Requests for the archive identity (read once, then kept in pg_wal/.wal-archive) are not
    /// what these tests look at.
    private var fileRecords: [FaultProxy.Record] {
        proxy.records.filter { !$0.target.contains(ArchiveIdentityObject.name) }
    }

    /// The tools through the proxy with the default attempt cap, without prefetch or
    /// push-ahead (each test counts its own requests).
    private func environment(budget: Int = 30, compression: String = "zstd") -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": proxy.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_RETRY_BUDGET": String(budget),
         "WAL_ARCHIVE_COMPRESSION": compression, "WAL_ARCHIVE_PREFETCH": "0", "WAL_ARCHIVE_PUSH_AHEAD": "0"]
    }

    private func proxiedStore(budget: Int, lowSpeedTimeout: Int = 30, maxAttempts: Int = 100) throws -> S3Store {
        try S3Store(settings: server.settings(endpoint: proxy.endpoint, lowSpeedTimeoutSeconds: lowSpeedTimeout,
                                              retryBudgetSeconds: budget, maxAttempts: maxAttempts))
    }

    /// Writes segment `number` into pg_wal and archives it through the proxy (no faults).
    private func archivedSegment(_ number: Int, compression: String = "zstd") throws -> (name: String, bytes: Data) {
        let name = segmentName(timeline: 1, number: number)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment(compression: compression))
        XCTAssertEqual(push.status, 0, push.stderr)
        try FileManager.default.removeItem(atPath: segment.path)
        return (name, segment.bytes)
    }

    private func restored() throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/pg_wal/RECOVERYXLOG"))
    }

    /// Downloads of an object that the store answered (not misses, such as a hint's guess).
    private func gets() -> Int {
        proxy.records.filter { FaultProxy.RequestFilter.objectGets.matches(method: $0.method, target: $0.target) && $0.status == 200 }.count
    }

    func testARecoveryWaitsOutAStormOfThrottlingAndResetsLongerThanFiveAttempts() throws {
        let (name, bytes) = try archivedSegment(0x11)
        // Six error answers take six attempts (curl itself resends a request whose reused
        // connection was reset, so resets alone would not).
        let slowDown = FaultProxy.Fault.status(503, code: "SlowDown")
        let storm: [FaultProxy.Fault] = [slowDown, .status(500, code: "InternalError"), slowDown, slowDown,
                                         .status(500, code: "InternalError"), slowDown, .reset, .cutBody(fraction: 0.5)]
        proxy.script(storm)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(try restored(), bytes)
        XCTAssertEqual(proxy.faultsInjected, storm.count)
    }

    func testABodyDamagedOnTheWayIsDownloadedAgain() throws {
        for (number, compression) in [(0x21, "none"), (0x22, "zstd"), (0x23, "gzip")] {
            let (name, bytes) = try archivedSegment(number, compression: compression)
            let before = gets()
            proxy.script([.flipResponseByte, .flipResponseByte, .cutBody(fraction: 0.9)], filter: .objectGets)
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment(compression: compression))
            XCTAssertEqual(fetch.status, 0, "\(compression): \(fetch.stderr)")
            XCTAssertEqual(try restored(), bytes, compression)
            XCTAssertEqual(gets() - before, 4, "\(compression): three damaged downloads, then a good one")
        }
    }

    /// The archive identity is downloaded again like any object whose body arrived damaged:
    /// a byte flipped on the way stops neither a recovery nor a standby.
    func testAnArchiveIdentityDamagedOnTheWayIsDownloadedAgain() throws {
        let (name, bytes) = try archivedSegment(0x24)
        // As on a server that has not read the identity yet: no local copy of it.
        try FileManager.default.removeItem(atPath: dataDirectory + "/pg_wal/.wal-archive")
        let before = proxy.records.count
        proxy.script([.flipResponseByte], filter: .init(methods: ["GET"], targetContains: ArchiveIdentityObject.name))
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(try restored(), bytes)
        let identityReads = proxy.records.dropFirst(before).filter { $0.method == "GET" && $0.target.contains(ArchiveIdentityObject.name) }
        XCTAssertEqual(identityReads.map(\.fault), [.flipResponseByte, nil], "a damaged read, then a good one")
    }

    /// Damage in the store itself: the first failure could have happened on the way, so two
    /// more downloads are received in full; the same bytes failing again is a hard error,
    /// in standby mode too, and nothing is written to %p.
    func testAnObjectDamagedInTheStoreFailsAfterTheSameBytesFailTwice() throws {
        let (name, _) = try archivedSegment(0x31, compression: "none")
        let direct = try S3Store(settings: server.settings())
        let key = try XCTUnwrap(direct.list(prefix: prefix + "/", delimiter: nil, startAfter: nil, limit: 10).keys.first)
        let original = CollectingSink()
        let info = try direct.get(key: key, into: original)
        var damaged = original.bytes
        damaged[damaged.count / 2] ^= 0x01
        try direct.delete(key: key)
        try putBytes(direct, key: key, damaged, metadata: info.metadata)

        let before = gets()
        let operation = RestoreOperation(store: try proxiedStore(budget: 30),
                                         storeIdentity: StoreIdentity(destination: .s3(server.settings()), prefix: prefix),
                                         archiveIdentity: TestArchives.identity)
        XCTAssertThrowsError(try operation.restore(name: name, to: dataDirectory + "/pg_wal/RECOVERYXLOG")) { error in
            guard let error = error as? RestoreError, case .verification = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.message.contains("damaged"), error.message)
        }
        XCTAssertEqual(gets() - before, 3)

        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 255, fetch.stderr)
        assertOneLine(fetch, "wal-fetch: ")
        XCTAssertTrue(fetch.stderr.contains(key), fetch.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal").filter { $0 != ".wal-archive" }, [])
    }

    /// A server sending the body faster than the low-speed limit (1 KiB/s) but far too slowly
    /// to finish: only the deadline of the transfer ends it.
    func testATricklingServerIsAbandonedWhenTheBudgetRunsOut() throws {
        var generator = SeededGenerator(seed: 3)
        let bytes = generator.uniformBytes(count: 1 << 20)
        try putBytes(try S3Store(settings: server.settings()), key: prefix + "/slow", bytes)
        proxy.plan = .init(faults: [.trickle(bytesPerSecond: 4096)], probability: 1, filter: .objectGets)
        let store = try proxiedStore(budget: 3, lowSpeedTimeout: 30)
        let start = MonotonicClock.nowMilliseconds()
        XCTAssertThrowsError(try store.get(key: prefix + "/slow", into: CollectingSink())) { error in
            guard case .unavailable(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("timed out"), detail)
        }
        print("figure: a server trickling 4 KiB/s was abandoned after \(MonotonicClock.nowMilliseconds() - start) ms (budget 3 s)")
    }

    func testAStalledServerIsAbandonedWhenTheBudgetRunsOut() throws {
        proxy.plan = .init(faults: [.stall], probability: 1)
        let store = try proxiedStore(budget: 2, lowSpeedTimeout: 30)
        XCTAssertThrowsError(try store.head(key: prefix + "/anything")) { error in
            guard case .unavailable(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("timed out"), detail)
        }
    }

    func testAfterTheBudgetATransientFailureIsNotFoundInStandbyAndFatalInRecovery() throws {
        let (name, _) = try archivedSegment(0x41)
        proxy.plan = .init(faults: [.status(503, code: "SlowDown"), .reset], probability: 1)
        let recovery = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment(budget: 2))
        XCTAssertEqual(recovery.status, 255, recovery.stderr)
        assertOneLine(recovery, "wal-fetch: cannot fetch \(name): storage unavailable")
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
        let standby = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment(budget: 2))
        XCTAssertEqual(standby.status, 1, standby.stderr)
        assertOneLine(standby, "wal-fetch: cannot fetch \(name): storage unavailable")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/pg_wal/RECOVERYXLOG"))
    }

    func testAnUploadDamagedOnTheWayIsSentAgain() throws {
        let name = segmentName(timeline: 1, number: 0x51)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        proxy.script([.flipRequestByte], filter: .init(methods: ["PUT"], targetContains: name + ".zst"))
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(fileRecords.filter { $0.method == "PUT" }.map(\.status), [200, 400, 200], "the claim, then the data twice")
        try FileManager.default.removeItem(atPath: segment.path)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(try restored(), segment.bytes)
    }

    /// The data PUT reached the store but its answer was lost: the retry's conditional PUT
    /// finds the object, and the identical checksum makes it a success. The same for the
    /// claim: its retry finds the claim, whose checksum is this file's, and the data follows.
    func testAnUploadWhoseAnswerWasLostIsRecognisedAsStored() throws {
        let name = segmentName(timeline: 1, number: 0x52)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        proxy.script([.resetAfterForwarding], filter: .init(methods: ["PUT"], targetContains: name + ".zst"))
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(fileRecords.map(\.method), ["PUT", "PUT", "PUT", "HEAD"])
        XCTAssertEqual(fileRecords.map(\.status), [200, nil, 412, 200])

        let claimed = segmentName(timeline: 1, number: 0x53)
        _ = try TestSegments.writeSegment(name: claimed, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        let before = fileRecords.count
        proxy.script([.resetAfterForwarding], filter: .init(methods: ["PUT"], targetContains: "names/" + claimed))
        let claimLost = try run("wal-push", ["pg_wal/" + claimed], environment: environment())
        XCTAssertEqual(claimLost.status, 0, claimLost.stderr)
        XCTAssertEqual(fileRecords.dropFirst(before).map(\.method), ["PUT", "PUT", "HEAD", "HEAD", "PUT"])
        XCTAssertEqual(fileRecords.dropFirst(before).map(\.status), [nil, 412, 200, 404, 200])
    }

    /// wal-push compresses a file while its name claim is being stored, yet the data PUT goes
    /// out only once the claim is stored: a claim the store keeps refusing means no data PUT at
    /// all, and a claim stored at its second attempt is followed by the data only after it.
    func testTheDataIsSentOnlyAfterItsClaimIsStored() throws {
        let refused = segmentName(timeline: 1, number: 0x54)
        _ = try TestSegments.writeSegment(name: refused, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        proxy.plan = .init(faults: [.status(503, code: "SlowDown")], probability: 1,
                           filter: .init(methods: ["PUT"], targetContains: "names/" + refused))
        let failed = try run("wal-push", ["pg_wal/" + refused], environment: environment(budget: 1))
        XCTAssertEqual(failed.status, 1, failed.stderr)
        let sent = fileRecords.filter { $0.target.contains(refused) }
        XCTAssertFalse(sent.isEmpty)
        XCTAssertEqual(sent.filter { !$0.target.contains("names/") }.map(\.target), [], "no data without a stored claim")

        proxy.plan = .none
        let retried = segmentName(timeline: 1, number: 0x55)
        _ = try TestSegments.writeSegment(name: retried, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        proxy.script([.status(503, code: "SlowDown")], filter: .init(methods: ["PUT"], targetContains: "names/" + retried))
        let push = try run("wal-push", ["pg_wal/" + retried], environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        let requests = fileRecords.filter { $0.target.contains(retried) }
        XCTAssertEqual(requests.map { $0.target.contains("names/") ? "claim" : "data" }, ["claim", "claim", "data"])
        XCTAssertEqual(requests.map(\.status), [503, 200, 200])
    }

    /// During an outage each push-ahead thread gives up at its first failed file, so one call
    /// lasts about one retry budget instead of one per file it meant to push ahead.
    func testDuringAnOutagePushAheadStopsAtItsFirstFailure() throws {
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal/archive_status", withIntermediateDirectories: true)
        let names = (0x71...0x78).map { segmentName(timeline: 1, number: $0) }
        for name in names {
            _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/pg_wal/archive_status/\(name).ready", contents: Data()))
        }
        // A push before the outage: the archive identity is known from then on.
        _ = try archivedSegment(0x70)
        proxy.plan = .init(faults: [.status(503, code: "SlowDown")], probability: 1)
        let before = proxy.records.count
        var pushing = environment(budget: 2)
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
        let push = try run("wal-push", ["pg_wal/" + names[0]], environment: pushing)
        XCTAssertEqual(push.status, 1, push.stderr)
        let attempted = Set(proxy.records.dropFirst(before).map { FileOperations.baseName($0.target) })
        XCTAssertEqual(attempted.count, 3, "its own file and one per push-ahead thread: \(attempted.sorted())")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/pg_wal/.wal-archive/pushed/" + names[1]))
    }

    /// The proxy's faults as a client with a single attempt sees them.
    func testEveryFaultKindReachesTheClient() throws {
        let bytes = Array("0123456789".utf8) + Array(repeating: UInt8(ascii: "x"), count: 100_000)
        try putBytes(try S3Store(settings: server.settings()), key: prefix + "/object", bytes)
        let once = try proxiedStore(budget: 2, lowSpeedTimeout: 30, maxAttempts: 1)
        let failing: [FaultProxy.Fault] = [.reset, .resetAfterForwarding, .stall, .status(503, code: "SlowDown"),
                                           .status(500, code: "InternalError"), .cutBody(fraction: 0.3),
                                           .trickle(bytesPerSecond: 2048)]
        for fault in failing {
            proxy.script([fault])
            XCTAssertThrowsError(try once.get(key: prefix + "/object", into: CollectingSink()), "\(fault)") { error in
                guard case .unavailable = error as? StorageError else { return XCTFail("\(fault): \(error)") }
            }
        }
        proxy.script([.flipResponseByte])
        let flipped = CollectingSink()
        try once.get(key: prefix + "/object", into: flipped)
        XCTAssertEqual(zip(flipped.bytes, bytes).filter { $0 != $1 }.count, 1, "exactly one byte differs")
        proxy.script([.flipRequestByte])
        XCTAssertThrowsError(try putBytes(once, key: prefix + "/other", bytes), "the store refuses the damaged body")
        XCTAssertNil(try once.head(key: prefix + "/other"))
        XCTAssertEqual(proxy.faultsInjected, failing.count + 2, "\(proxy.records)")
    }

    /// Random transient faults (seeded, so a failure reproduces) on a third of the requests:
    /// pushes with push-ahead and fetches all succeed, byte for byte.
    func testRandomTransientFaultsNeverChangeWhatIsArchivedOrRestored() throws {
        var segments: [String: Data] = [:]
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal/archive_status", withIntermediateDirectories: true)
        for number in 0x61...0x66 {
            let name = segmentName(timeline: 1, number: number)
            segments[name] = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize).bytes
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/pg_wal/archive_status/\(name).ready", contents: Data()))
        }
        proxy.plan = .init(rules: [.init(faults: [.flipResponseByte], probability: 0.2, filter: .objectGets),
                                   .init(faults: [.flipRequestByte], probability: 0.2, filter: .init(methods: ["PUT"])),
                                   .init(faults: FaultProxy.Fault.transient, probability: 0.3)], seed: 42)
        var pushing = environment()
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
        for name in segments.keys.sorted() {
            let push = try run("wal-push", ["pg_wal/" + name], environment: pushing)
            XCTAssertEqual(push.status, 0, "\(name): \(push.stderr)")
            try FileManager.default.removeItem(atPath: dataDirectory + "/pg_wal/archive_status/\(name).ready")
            try FileManager.default.removeItem(atPath: dataDirectory + "/pg_wal/" + name)
        }
        for name in segments.keys.sorted() {
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertEqual(try restored(), segments[name], name)
        }
        XCTAssertGreaterThan(proxy.faultsInjected, 5)
    }
}
