import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// What the built tools cost in requests, counted on the wire (`FaultProxy` without faults in
/// front of the signature-checking local S3): each `wal-push` and `wal-fetch` call, first call
/// and steady state, and each `wal-archive` command on an archive of N segments over D dates,
/// against the formulas of docs/operations.md and docs/storage-layout.md.
///
/// The command figures for a larger archive: `WAL_ARCHIVE_COST_SEGMENTS=2100
/// WAL_ARCHIVE_COST_DATES=7 scripts/run-tests s3 --filter RequestCostS3Tests` (each test prints
/// its figures).
final class RequestCostS3Tests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var proxy: FaultProxy!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("costs").dropLast())
        let proxy = try FaultProxy(upstream: server.endpoint)
        self.proxy = proxy
        addTeardownBlock { proxy.stop() }
    }

    /// The tools through the proxy, without prefetch or push-ahead (each call's own requests).
    private var environment: [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": proxy.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_PREFETCH": "0",
         "WAL_ARCHIVE_PUSH_AHEAD": "0"]
    }

    /// Runs a built tool through the proxy; returns its result and the requests it made
    /// ("METHOD what", the key relative to the prefix).
    private func counted(_ tool: String, _ arguments: [String]) throws -> (Result, [String]) {
        let before = proxy.records.count
        let result = try run(tool, arguments, environment: environment)
        let requests = proxy.records.dropFirst(before).map { record -> String in
            let path = record.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? record.target
            let relative = path.components(separatedBy: "/" + prefix + "/").last ?? path
            return record.method + " " + (record.target.contains("list-type=2") ? "(listing)"
                : record.target.contains("?delete") ? "(batch delete)" : relative)
        }
        return (result, requests)
    }

    /// wal-archive init: one conditional PUT (two requests when the identity exists). wal-push:
    /// the first call of a data directory reads the archive identity (1 GET), then
    /// every new segment is its name claim and its data (2 PUTs): the identity costs nothing
    /// while its local copy is fresh (5 minutes), the uniqueness check one PUT of an empty
    /// object. wal-fetch: the first call reads the identity and finds the segment through its
    /// claim (GET, HEAD, GET); the next segment on the same date is one GET.
    func testEachCallOfTheToolsCostsTheDocumentedRequestsFirstAndInSteadyState() throws {
        // wal-archive init: one conditional PUT; again (the identity exists): refused, then read.
        let source = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 1), in: try makeTemporaryDirectory(self, "init"),
                                                   segmentSize: 1 << 20)
        let (created, creating) = try counted("wal-archive", ["init", "--wal-file", source.path])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(creating, ["PUT wal-archive.json"])
        let (again, checking) = try counted("wal-archive", ["init", "--wal-file", source.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(checking, ["PUT wal-archive.json", "GET wal-archive.json"])
        var figures = ["wal-archive init: \(creating.count), again \(checking.count)"]

        let names = (1...3).map { segmentName(timeline: 1, number: 0x30 + $0) }
        var pushes: [[String]] = []
        for name in names {
            _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)
            let (push, requests) = try counted("wal-push", ["pg_wal/" + name])
            XCTAssertEqual(push.status, 0, push.stderr)
            pushes.append(requests)
        }
        let date = try XCTUnwrap(pushes[0].last?.split(separator: "/").first.map { String($0.dropFirst("PUT ".count)) })
        XCTAssertEqual(pushes[0], ["GET wal-archive.json", "PUT names/\(names[0])", "PUT \(date)/\(names[0]).zst"])
        for (name, requests) in zip(names, pushes).dropFirst() {
            XCTAssertEqual(requests, ["PUT names/\(name)", "PUT \(date)/\(name).zst"])
        }
        figures.append("wal-push: first call \(pushes[0].count), later calls \(pushes[1].count)")

        // A restore into a new data directory: nothing known locally.
        try FileManager.default.removeItem(atPath: walDirectory)
        try FileManager.default.createDirectory(atPath: walDirectory, withIntermediateDirectories: true)
        var fetches: [[String]] = []
        for name in names {
            let (fetch, requests) = try counted("wal-fetch", [name, "pg_wal/RECOVERYXLOG"])
            XCTAssertEqual(fetch.status, 0, fetch.stderr)
            fetches.append(requests)
        }
        XCTAssertEqual(fetches[0], ["GET wal-archive.json", "HEAD names/\(names[0])", "GET \(date)/\(names[0]).zst"])
        for (name, requests) in zip(names, fetches).dropFirst() {
            XCTAssertEqual(requests, ["GET \(date)/\(name).zst"])
        }
        figures.append("wal-fetch: first call \(fetches[0].count), later calls \(fetches[1].count)")
        print("requests per call on S3: " + figures.joined(separator: "; "))
    }

    /// Each command on an archive of N segments over D dates, each segment with its name
    /// claim, one base backup B = 1 (and its claim) 100 segments before the newest, no
    /// timeline history (H = 0), the identity: O = 2N + 2B + H + 1 objects.
    /// L = 1 GET (identity) + P LISTs + (B + H) GETs, P the pages of one listing of the prefix:
    /// ⌈O/1000⌉ on a server that fills every page (AWS, moto), more on one that ends pages
    /// early (Ceph's RGW); list, status and a prune plan cost L, verify L + one HEAD per
    /// segment of the chain, prune --confirm L + ⌈d/1000⌉ + ⌈c/1000⌉ DeleteObjects for d data
    /// objects and c claims; check a fixed 3. D is in no formula: one listing without a
    /// delimiter covers every date.
    func testEachOperatorCommandCostsItsFormulaWhateverTheNumberOfDates() throws {
        let variables = ProcessInfo.processInfo.environment
        let segments = variables["WAL_ARCHIVE_COST_SEGMENTS"].flatMap { Int($0) } ?? 1_100
        let dates = variables["WAL_ARCHIVE_COST_DATES"].flatMap { Int($0) } ?? 3
        XCTAssertGreaterThan(segments, 200)
        let layout = StorageLayout(prefix: prefix)
        let settings = server.settings()
        let storeIdentity = StoreIdentity(destination: .s3(settings), prefix: prefix)
        try TestArchives.create(in: try S3Store(settings: settings), storeIdentity: storeIdentity)

        // Segments as wal-push leaves them (their contents are not read: verify without --deep
        // reads metadata), written by four clients at once.
        let size = Int64(WALSegmentSize.postgresDefault.bytes)
        let checksum = String(repeating: "a", count: 64)
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let store = try S3Store(settings: settings)
                for number in stride(from: 1 + worker, through: segments, by: 4) {
                    let name = try XCTUnwrap(WALFileName(timeline: 1, segmentNumber: UInt64(number), segmentSize: .postgresDefault))
                    let date = calendarDate(dayOffset: (number - 1) * dates / segments)
                    let claim = NameClaim(name: name.description, relativeKey: date + "/" + name.description + ".zst",
                                          sha256Hex: checksum, size: size, compression: .zstd)
                    try putBytes(store, key: NameClaim.key(name: name.description, layout: layout), [], metadata: claim.metadata)
                    try putBytes(store, key: claim.dataKey(layout), [1],
                                 metadata: PayloadMetadata(algorithm: .zstd, originalSHA256Hex: checksum, originalSize: size).dictionary)
                }
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
        let start = try XCTUnwrap(WALFileName(timeline: 1, segmentNumber: UInt64(segments - 100), segmentSize: .postgresDefault))
        let backupFile = dataDirectory + "/" + start.description + ".00000028.backup"
        let startNumber = UInt64(segments - 100)
        let lsn = { (offset: UInt64) in String(startNumber >> 8, radix: 16, uppercase: true) + "/"
            + String(((startNumber & 0xFF) << 24) + offset, radix: 16, uppercase: true) }
        try Data(ArchiveOperationsScenarios.backupHistory(start: lsn(0x28), startSegment: start, stop: lsn(0x100), label: "kept"))
            .write(to: URL(fileURLWithPath: backupFile))
        try TestSegments.setModificationTime(backupFile, UTCTime(secondsSinceEpoch: 1_767_225_600 + Int64(dates - 1) * 86_400))
        _ = try ArchiveOperation(store: try S3Store(settings: settings), storeIdentity: storeIdentity,
                                 archiveIdentity: TestArchives.identity).archive(path: backupFile)

        let (backups, histories) = (1, 0)
        let objects = 2 * segments + 2 * backups + histories + 1
        let pages = try pagesOfOneListing()
        XCTAssertEqual(pages.objects, objects)
        if server.kind == .moto {
            XCTAssertEqual(pages.requests, (objects + 999) / 1000)
        } else {
            XCTAssertGreaterThanOrEqual(pages.requests, (objects + 999) / 1000)
        }
        let read = 1 + pages.requests + backups + histories
        let chain = 101
        let deleted = segments - chain
        var figures = ["N = \(segments) segments over D = \(dates) dates, B = 1, H = 0, O = \(objects) objects, P = \(pages.requests) pages"]
        func command(_ arguments: [String], costs expected: Int, _ what: String) throws {
            let (result, requests) = try counted("wal-archive", arguments)
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
            XCTAssertEqual(requests.count, expected, "\(arguments): \(Dictionary(grouping: requests) { $0.hasSuffix(")") ? $0 : String($0.prefix { $0 != " " }) }.mapValues(\.count))")
            figures.append("\(arguments.joined(separator: " ")): \(requests.count) (\(what))")
        }
        try command(["list"], costs: read, "L")
        try command(["status"], costs: read, "L")
        try command(["verify"], costs: read + chain, "L + \(chain) HEADs")
        try command(["prune", "--keep-backups", "1"], costs: read, "L")
        try command(["prune", "--keep-backups", "1", "--confirm"],
                    costs: read + (deleted + 999) / 1000 + (deleted + 999) / 1000, "L + ⌈\(deleted)/1000⌉ + ⌈\(deleted)/1000⌉")
        try command(["check"], costs: 3, "GET, LIST, refused conditional PUT")
        print("requests per command on S3: " + figures.joined(separator: "; "))
    }

    /// The requests one complete listing of the prefix takes on this server, counted on the
    /// wire: what the commands' one listing pass must cost, no more.
    private func pagesOfOneListing() throws -> (requests: Int, objects: Int) {
        let before = proxy.records.count
        let objects = try S3Store(settings: server.settings(endpoint: proxy.endpoint)).listObjects(prefix: prefix + "/", startAfter: nil, limit: Int.max)
        return (proxy.records.dropFirst(before).filter { $0.target.contains("list-type=2") }.count, objects.count)
    }
}

/// Errors collected from several threads.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.withLock { items.append(item) } }
    var all: [String] { lock.withLock { items } }
}
