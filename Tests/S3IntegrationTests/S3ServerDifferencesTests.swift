import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// What real S3 implementations do differently from AWS and from each other, against the shared
/// local server: Ceph RGW 16.2 (`--s3 rgw`) shows each difference; moto runs the parts it can.
/// (Listing order, keys needing encoding and `If-None-Match` on PUT are proven on both servers
/// by S3StoreTests.)
final class S3ServerDifferencesTests: XCTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        server = try LocalS3Server.shared()
        prefix = server.uniquePrefix(name.filter { $0.isLetter || $0.isNumber })
    }

    private func requireRGW(_ what: String) throws {
        try XCTSkipUnless(server.kind == .rgw, "\(what): only Ceph RGW shows it (run with --s3 rgw)")
    }

    /// RGW 16.2 refuses `x-amz-storage-class: STANDARD_IA` with 400 InvalidArgument and an empty
    /// message (moto refuses an unknown class with InvalidStorageClass): one request, a final
    /// answer naming the setting, nothing stored, nothing empty printed.
    func testAStorageClassTheServerRefusesFailsAtOnceNamingTheSetting() throws {
        let refusedClass = server.kind == .rgw ? "STANDARD_IA" : "NOT_A_STORAGE_CLASS"
        // With 5 attempts a retried answer would end as .unavailable after them; .rejected is the first answer.
        let store = try S3Store(settings: server.settings(retryBudgetSeconds: 30, maxAttempts: 5))
        let key = prefix + "000000010000000000000001"
        let path = try makeTemporaryDirectory(self) + "/body"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("wal".utf8)))
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let request = PutRequest(key: key, fileDescriptor: handle.fileDescriptor, length: 3,
                                 sha256Hex: SHA256Hasher.hash(Array("wal".utf8)).hexString, storageClass: refusedClass)
        XCTAssertThrowsError(try store.put(request)) { error in
            guard let error = error as? StorageError, case .rejected(400, let code, _, _) = error else {
                return XCTFail("expected a final 400, got \(error)")
            }
            XCTAssertTrue(["InvalidArgument", "InvalidStorageClass"].contains(code), code)
            let message = error.message
            XCTAssertTrue(message.contains("storage class \(refusedClass)"), message)
            XCTAssertTrue(message.contains(S3Settings.storageClassSettingHint), message)
            Self.assertNothingEmpty(message)
        }
        XCTAssertNil(try store.head(key: key), "nothing may be stored")
        XCTAssertNoThrow(try putBytes(store, key: key, Array("wal".utf8)), "the same upload without the class is stored")
    }

    /// RGW's errors carry `<Message></Message>`, and HEAD answers have no body at all: a message
    /// says nothing rather than an empty "()", ": " or "request id ". (A HEAD in a missing bucket
    /// is a plain 404 on every server: the PUT or GET after it reports the bucket.)
    func testRefusalsWithoutMessageOrRequestIDPrintNothingEmpty() throws {
        let wrong = S3Settings.Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "not-the-secret")
        let refused = try S3Store(settings: server.settings(credentials: wrong))
        var missingBucket = server.settings()
        missingBucket.bucket = "no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())"
        let noBucket = try S3Store(settings: missingBucket)
        let attempts: [() throws -> Void] = [
            { _ = try refused.head(key: self.prefix + "k") },
            { _ = try refused.list(prefix: self.prefix, delimiter: nil, startAfter: nil, limit: 1) },
            { _ = try noBucket.list(prefix: "", delimiter: nil, startAfter: nil, limit: 1) },
        ]
        for attempt in attempts {
            XCTAssertThrowsError(try attempt()) { error in
                guard let error = error as? StorageError else { return XCTFail("untyped \(error)") }
                Self.assertNothingEmpty(error.message)
            }
        }
    }

    /// A bucket of another region: RGW answers 301 PermanentRedirect with no body and no
    /// `x-amz-bucket-region` (for a bucket of another zonegroup); every operation fails with the
    /// bucket's region and the setting to change, and is not retried.
    func testABucketInAnotherRegionFailsNamingItsRegionAndTheSetting() throws {
        try requireRGW("301 PermanentRedirect for a bucket of another region")
        let (bucket, bucketRegion) = LocalS3Server.otherRegionBucket
        XCTAssertEqual(server.bucketsInOtherRegions, [bucket: bucketRegion])
        XCTAssertNotEqual(bucketRegion, server.region)
        let store = try S3Store(settings: server.settings(bucket: bucket, retryBudgetSeconds: 30, maxAttempts: 5))
        let attempts: [() throws -> Void] = [
            { _ = try store.head(key: "k") },
            { _ = try store.get(key: "k", into: CollectingSink()) },
            { _ = try store.list(prefix: "", delimiter: "/", startAfter: nil, limit: 10) },
            { _ = try putBytes(store, key: "k", [1, 2, 3]) },
        ]
        for attempt in attempts {
            XCTAssertThrowsError(try attempt()) { error in
                guard let error = error as? StorageError, case .rejected(301, _, _, _) = error else {
                    return XCTFail("expected a final 301, got \(error)")
                }
                let message = error.message
                XCTAssertTrue(message.contains("in region \(bucketRegion)"), message)
                XCTAssertTrue(message.contains("not \(server.region)"), message)
                XCTAssertTrue(message.contains(S3Settings.regionSettingHint), message)
                Self.assertNothingEmpty(message)
            }
        }
    }

    /// RGW refuses a request signed more than 15 minutes away from its clock (403
    /// RequestTimeTooSkewed, no `<ServerTime>`; HEAD answers have no body at all): the store
    /// learns the offset from the `Date` header, signs again once, and signs every later request
    /// with the corrected time.
    func testAClockHoursOffIsCorrectedFromTheServersDate() throws {
        try requireRGW("RequestTimeTooSkewed (moto does not check the request time)")
        for skew: Int64 in [-7_200, 3 * 86_400] {
            let store = try S3Store(settings: server.settings(maxAttempts: 1),
                                    localClock: { UTCTime(secondsSinceEpoch: UTCTime.now().secondsSinceEpoch + skew) })
            let key = prefix + "skew\(skew)"
            XCTAssertNil(try store.head(key: key), "a HEAD refused for skew is signed again, and then finds nothing")
            XCTAssertLessThanOrEqual(abs(store.serverClockOffsetSeconds + skew), 120)
            XCTAssertEqual(try putBytes(store, key: key, Array("on time".utf8)), .stored)
            let sink = CollectingSink()
            try store.get(key: key, into: sink)
            XCTAssertEqual(sink.bytes, Array("on time".utf8))
            XCTAssertEqual(try store.list(prefix: key, delimiter: nil, startAfter: nil, limit: 5).keys, [key])
            XCTAssertLessThanOrEqual(abs(store.serverClockOffsetSeconds + skew), 120)
        }
    }

    /// A clock that is right is never corrected: a refusal for other reasons (wrong secret) is not
    /// taken for skew.
    func testARefusalWithoutSkewLeavesTheClockAlone() throws {
        let wrong = S3Settings.Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "not-the-secret")
        let store = try S3Store(settings: server.settings(credentials: wrong))
        XCTAssertThrowsError(try store.head(key: prefix + "k"))
        XCTAssertThrowsError(try store.list(prefix: prefix, delimiter: nil, startAfter: nil, limit: 1))
        XCTAssertEqual(store.serverClockOffsetSeconds, 0)
    }

    static func assertNothingEmpty(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
        for empty in ["()", "( ", " )", ": :", ": (", "request id )", "request id  ", ":  "] {
            XCTAssertFalse(message.contains(empty), "\(empty.debugDescription) in: \(message)", file: file, line: line)
        }
        XCTAssertFalse(message.hasSuffix(":") || message.hasSuffix(": "), message, file: file, line: line)
    }
}

/// The same differences met by the built tools, as PostgreSQL runs them: one line, the right exit
/// code; and the clock correction in a process whose clock really is wrong (libfaketime).
final class S3ServerDifferencesCommandLineTests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("differences").dropLast())
        try TestArchives.initialize(environment: environment())
    }

    private func environment(bucket: String? = nil, _ extra: [String: String] = [:]) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(bucket ?? server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_PATH_STYLE": "true",
         "WAL_ARCHIVE_RETRY_BUDGET": "20", "WAL_ARCHIVE_MAX_ATTEMPTS": "4"].merging(extra) { $1 }
    }

    func testPushWithARefusedStorageClassSaysWhichSettingToChange() throws {
        let refusedClass = server.kind == .rgw ? "STANDARD_IA" : "NOT_A_STORAGE_CLASS"
        let name = segmentName(timeline: 1, number: 0x71)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory)
        let push = try run("wal-push", ["pg_wal/" + name],
                           environment: environment(["WAL_ARCHIVE_STORAGE_CLASS": refusedClass]))
        XCTAssertEqual(push.status, 1, push.stderr)
        assertOneLine(push, "wal-push: cannot store ")
        XCTAssertTrue(push.stderr.contains("storage class \(refusedClass)"), push.stderr)
        XCTAssertTrue(push.stderr.contains("WAL_ARCHIVE_STORAGE_CLASS"), push.stderr)
        XCTAssertFalse(push.stderr.contains("failed 4 time(s)"), "a final answer is not retried: \(push.stderr)")
        S3ServerDifferencesTests.assertNothingEmpty(push.stderr.trimmingCharacters(in: .newlines))

        let again = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    func testToolsAgainstABucketInAnotherRegionNameItsRegion() throws {
        try XCTSkipUnless(server.kind == .rgw, "301 PermanentRedirect: only Ceph RGW shows it (run with --s3 rgw)")
        let (bucket, bucketRegion) = LocalS3Server.otherRegionBucket
        let name = segmentName(timeline: 1, number: 0x72)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory)
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment(bucket: bucket))
        XCTAssertEqual(push.status, 1, push.stderr)
        assertOneLine(push, "wal-push: cannot store ")
        XCTAssertTrue(push.stderr.contains("in region \(bucketRegion)"), push.stderr)
        XCTAssertTrue(push.stderr.contains("WAL_ARCHIVE_REGION"), push.stderr)

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment(bucket: bucket))
        XCTAssertEqual(fetch.status, 255, "a wrong region is never 'not in the archive': \(fetch.stderr)")
        assertOneLine(fetch, "wal-fetch: cannot fetch \(name): ")
        XCTAssertTrue(fetch.stderr.contains("in region \(bucketRegion)"), fetch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
    }

    /// `faketime` (libfaketime) sets the clock of the tools two hours back and a day forward:
    /// RGW refuses their first request (RequestTimeTooSkewed), they sign again with the server's
    /// time and store and fetch the exact bytes, silently, as with a right clock.
    func testToolsWithAClockHoursOffArchiveAndRestoreExactly() throws {
        try XCTSkipUnless(server.kind == .rgw, "RequestTimeTooSkewed: moto does not check the request time (run with --s3 rgw)")
        let faketime = "/usr/bin/faketime"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: faketime), "apt-get install faketime")
        let control = try run(faketime, ["-f", "-2h", "/bin/date", "+%s"])
        let fakedNow = try XCTUnwrap(Int64(control.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), control.stderr)
        XCTAssertLessThanOrEqual(abs(UTCTime.now().secondsSinceEpoch - 7_200 - fakedNow), 60, "faketime has no effect here")

        let name = segmentName(timeline: 1, number: 0x73)
        let segment = try TestSegments.writeSegment(name: name, in: walDirectory)
        let tools = TestPaths.builtProducts
        let push = try run(faketime, ["-f", "-2h", tools.appendingPathComponent("wal-push").path, "pg_wal/" + name],
                           environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        let fetch = try run(faketime, ["-f", "+1d", tools.appendingPathComponent("wal-fetch").path, name,
                                       "pg_wal/RECOVERYXLOG"], environment: environment(["WAL_ARCHIVE_PREFETCH": "0"]))
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), segment.bytes)
    }
}
