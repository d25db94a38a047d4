import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The first connection of a wal-push or wal-fetch call, opened while the call prepares its
/// first request (EarlyConnection), counted at a relay in front of the local S3 server: it is
/// the connection the first request uses, it never adds a connection, a call that makes no
/// request opens none, and a dead endpoint ends a call as it always did.
final class EarlyConnectionS3Tests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("early").dropLast())
        try TestArchives.initialize(environment: environment())
    }

    private func environment(endpoint: String? = nil, _ extra: [String: String] = [:]) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": endpoint ?? server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_RETRY_BUDGET": "5",
         "WAL_ARCHIVE_MAX_ATTEMPTS": "2", "WAL_ARCHIVE_PREFETCH": "0", "WAL_ARCHIVE_PUSH_AHEAD": "0"]
            .merging(extra) { _, new in new }
    }

    /// A relay (counting the tool's connections) in front of a FaultProxy without faults
    /// (recording its requests) in front of the server.
    private func countingPath() throws -> (relay: GatedRelay, proxy: FaultProxy) {
        let proxy = try FaultProxy(upstream: server.endpoint)
        let relay = try GatedRelay(upstream: proxy.endpoint, allowance: Int.max)
        relay.open()
        return (relay, proxy)
    }

    /// The store connects when it is made, before any request; the first request then goes
    /// over that connection: once it exists the relay refuses every new connection, and the
    /// request still succeeds (a store without an early connection fails there).
    func testTheFirstRequestTravelsOverTheConnectionOpenedWhenTheStoreWasMade() throws {
        let (relay, proxy) = try countingPath()
        defer { relay.stop(); proxy.stop() }
        let key = prefix + "/early-object"
        _ = try S3Store(settings: server.settings()).put(PutRequest(key: key, bytes: [UInt8](repeating: 7, count: 1000)))
        let settings = server.settings(endpoint: relay.endpoint, retryBudgetSeconds: 2, maxAttempts: 2)

        let store = try S3Store(settings: settings, connectsEarly: true)
        XCTAssertTrue(relay.waitForConnections(1), "the store did not connect when it was made")
        XCTAssertEqual(proxy.records.count, 0, "a request was sent before any was asked for")
        relay.refuseNewConnections()
        XCTAssertEqual(try store.head(key: key)?.size, 1000)
        XCTAssertEqual(relay.connectionCount, 1)
        XCTAssertEqual(proxy.records.map(\.method), ["HEAD"])

        XCTAssertThrowsError(try S3Store(settings: settings).head(key: key), "the relay did not refuse new connections")
    }

    /// A push (name claim and data) and a fetch of a new segment open no connection they do
    /// not use, and no more connections than they make requests (moto closes each connection
    /// after its answer, RGW keeps it open): an early connection left unused would be one that
    /// carried no byte.
    func testAPushAndAFetchUseEveryConnectionTheyOpen() throws {
        let (relay, proxy) = try countingPath()
        defer { relay.stop(); proxy.stop() }
        let name = segmentName(timeline: 1, number: 0x21)
        let segment = try TestSegments.writeSegment(name: name, in: walDirectory)

        let push = try run("wal-push", ["pg_wal/" + name], environment: environment(endpoint: relay.endpoint))
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(proxy.records.filter { $0.method == "PUT" }.count, 2, "claim and data: \(proxy.records)")
        XCTAssertTrue(relay.waitUntilNoConnectionIsOpen())
        XCTAssertGreaterThan(relay.connectionCount, 0)
        XCTAssertLessThanOrEqual(relay.connectionCount, proxy.records.count, "requests: \(proxy.records)")
        XCTAssertEqual(relay.unusedConnectionCount, 0)

        let (connectionsBefore, requestsBefore) = (relay.connectionCount, proxy.records.count)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment(endpoint: relay.endpoint))
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), segment.bytes)
        XCTAssertTrue(relay.waitUntilNoConnectionIsOpen())
        XCTAssertGreaterThan(relay.connectionCount, connectionsBefore)
        XCTAssertLessThanOrEqual(relay.connectionCount - connectionsBefore, proxy.records.count - requestsBefore,
                                 "requests: \(proxy.records)")
        XCTAssertEqual(relay.unusedConnectionCount, 0)
    }

    /// A fetch served from a prefetched file makes no request and opens no connection; a fetch
    /// of the same name that downloads opens one (the relay counts this tool's connections).
    func testAFetchServedFromAPrefetchedFileOpensNoConnection() throws {
        let first = segmentName(timeline: 1, number: 0x31)
        let second = segmentName(timeline: 1, number: 0x32)
        for name in [first, second] {
            _ = try TestSegments.writeSegment(name: name, in: walDirectory)
            let push = try run("wal-push", ["pg_wal/" + name], environment: environment())
            XCTAssertEqual(push.status, 0, push.stderr)
            try FileManager.default.removeItem(atPath: walDirectory + "/" + name)
        }
        // Prefetch runs only in archive recovery.
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        // Through the relay from here on: the endpoint is part of the store identity a
        // prefetched file is kept for.
        let (relay, proxy) = try countingPath()
        defer { relay.stop(); proxy.stop() }
        let throughRelay = environment(endpoint: relay.endpoint, ["WAL_ARCHIVE_PREFETCH": "1", "WAL_ARCHIVE_LOG": "info"])
        // One segment ahead: the worker this fetch starts brings the second one.
        let fetch = try run("wal-fetch", [first, "pg_wal/RECOVERYXLOG"], environment: throughRelay)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        // The worker may already be done when this looks; the served call shows it brought the file.
        _ = PrefetchWorkers.waitForHolder(walDirectory: walDirectory)
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)

        // Holding the workers' lock: the served call starts no worker that would connect.
        let connectionsBefore = relay.connectionCount
        let requestsBefore = proxy.records.count
        let served = try PrefetchWorkers.whileIdle(walDirectory: walDirectory) {
            try run("wal-fetch", [second, "pg_wal/RECOVERYXLOG"], environment: throughRelay)
        }
        XCTAssertEqual(served.status, 0, served.stderr)
        XCTAssertTrue(served.stderr.contains("result=prefetched"), served.stderr)
        XCTAssertEqual(relay.connectionCount, connectionsBefore)
        XCTAssertEqual(proxy.records.count, requestsBefore, "\(proxy.records)")

        // The same segment downloaded (a destination other than RECOVERYXLOG: no prefetch).
        let downloaded = try run("wal-fetch", [second, "pg_wal/" + second], environment: throughRelay)
        XCTAssertEqual(downloaded.status, 0, downloaded.stderr)
        XCTAssertTrue(downloaded.stderr.contains("result=restored"), downloaded.stderr)
        XCTAssertTrue(relay.waitUntilNoConnectionIsOpen())
        XCTAssertGreaterThan(relay.connectionCount, connectionsBefore)
        XCTAssertEqual(relay.unusedConnectionCount, 0)
        XCTAssertGreaterThan(relay.connectionCount, connectionsBefore)
    }

    /// An endpoint where nothing listens: the early connect fails, and the calls end as they
    /// always did — wal-push 1 (PostgreSQL retries), wal-fetch 255 (recovery stops) — each
    /// after its own attempts, with the connect failure in the one line.
    func testADeadEndpointEndsCallsWithTheirUsualExitCodes() throws {
        let (unlistened, port) = try LoopbackSocket.bind()
        defer { close(unlistened) }
        let dead = environment(endpoint: "http://127.0.0.1:\(port)", ["WAL_ARCHIVE_RETRY_BUDGET": "2"])
        let name = segmentName(timeline: 1, number: 0x41)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory)

        let push = try run("wal-push", ["pg_wal/" + name], environment: dead)
        XCTAssertEqual(push.status, 1, push.stderr)
        assertOneLine(push, "wal-push: ")
        XCTAssertTrue(push.stderr.contains("failed 2 time(s)") && push.stderr.contains("onnect"), push.stderr)

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: dead)
        XCTAssertEqual(fetch.status, 255, fetch.stderr)
        assertOneLine(fetch, "wal-fetch: cannot fetch \(name): ")
        XCTAssertTrue(fetch.stderr.contains("failed 2 time(s)") && fetch.stderr.contains("onnect"), fetch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
    }
}
