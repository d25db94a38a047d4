import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The built executables against the signature-checking local S3 server.
final class CommandLineS3Tests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("tools").dropLast())
        try TestArchives.initialize(environment: environment())
    }

    private func environment(secret: String? = nil) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": secret ?? server.credentials.secretAccessKey,
         "WAL_ARCHIVE_RETRY_BUDGET": "5", "WAL_ARCHIVE_MAX_ATTEMPTS": "2"]
    }

    func testPushAndFetchAreIdempotentExactAndFailSafe() throws {
        let store = try S3Store(settings: server.settings())
        let name = segmentName(timeline: 1, number: 0x51)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        let key = prefix + "/" + (try FileOperations.modificationTime(segment.path).calendarDate) + "/" + name + ".zst"
        let stored = try XCTUnwrap(try store.head(key: key))
        XCTAssertEqual(stored.metadata[PayloadMetadata.sha256Name], SHA256Hasher.hash(segment.bytes).hexString)

        let again = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try store.head(key: key), stored, "the object was replaced")

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/pg_wal/RECOVERYXLOG")), segment.bytes)

        let next = segmentName(timeline: 1, number: 0x52)
        let missing = try run("wal-fetch", [next, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(missing.status, 1, missing.stderr)
        assertOneLine(missing, "wal-fetch: \(next) is not in the archive s3://\(server.bucket)")
        let history = try run("wal-fetch", ["00000002.history", "pg_wal/RECOVERYHISTORY"], environment: environment())
        XCTAssertEqual(history.status, 1, history.stderr)

        let modification = try FileOperations.modificationTime(segment.path)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", seed: 1234)
        try TestSegments.setModificationTime(segment.path, modification)
        let conflict = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(conflict.status, 4)
        assertOneLine(conflict, "wal-push: a different file is already archived as s3://\(server.bucket)/\(key) at \(server.endpoint) (")
        XCTAssertEqual(try store.head(key: key), stored, "the object was replaced")
    }

    func testWrongCredentialsAreFatalEvenInStandby() throws {
        let name = segmentName(timeline: 1, number: 0x61)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let wrong = environment(secret: "wrong-secret-key-000000000000000000000000")
        let push = try run("wal-push", ["pg_wal/" + name], environment: wrong)
        XCTAssertEqual(push.status, 1)
        assertOneLine(push, "wal-push: cannot store ")
        XCTAssertTrue(push.stderr.contains("access denied"), push.stderr)
        XCTAssertFalse(push.stderr.contains("wrong-secret"))
        for standby in [true, false] {
            if standby { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data())) }
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: wrong)
            XCTAssertEqual(fetch.status, 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: cannot fetch \(name): ")
            XCTAssertTrue(fetch.stderr.contains("access denied"), fetch.stderr)
            if standby { try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal").filter { $0.hasPrefix(".wal-archive-tmp") }, [])
    }

    /// A missing bucket is a broken configuration, never "the archive has no such file".
    func testAMissingBucketIsNeverNotFound() throws {
        var environment = environment()
        environment["WAL_ARCHIVE_URL"] = "s3://no-such-bucket-\(UInt32.random(in: 0...UInt32.max))/p"
        for name in [segmentName(timeline: 1, number: 0x81), "00000002.history"] {
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(fetch.status, 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: cannot fetch \(name): ")
            XCTAssertTrue(fetch.stderr.contains("storage refused the request: HTTP 404 NoSuchBucket"), fetch.stderr)
        }
    }

    /// Archives an uncompressed segment, removes it from pg_wal, and fetches it back through a
    /// relay that holds the download after its first 256 KiB; once the fetch has written part
    /// of its temporary file it is sent `signal`. It cannot have finished: the rest of the
    /// object is still held.
    private func interruptFetch(number: Int, with signal: Int32)
        throws -> (name: String, segment: TestSegments.Segment, environment: [String: String]) {
        let name = segmentName(timeline: 1, number: number)
        let segment = try TestSegments.writeSegment(name: name, in: walDirectory)
        var environment = environment()
        environment["WAL_ARCHIVE_COMPRESSION"] = "none"
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)
        try FileManager.default.removeItem(atPath: segment.path)

        // More than the decoded bytes wal-fetch gathers before its first write to the temporary
        // file (one writer slot), far less than the segment: the download stops part way, with
        // part of the file written.
        let relay = try GatedRelay(upstream: server.endpoint, allowance: BackgroundFileWriter.slotSize * 3 / 2)
        defer { relay.stop() }
        var throughRelay = environment
        throughRelay["WAL_ARCHIVE_ENDPOINT"] = relay.endpoint
        let events = try DirectoryEvents(watching: [walDirectory])
        let (process, _, _) = try launch("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: throughRelay)
        let sawPartial = try waitForPartialTemporaryFile(events)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        XCTAssertTrue(sawPartial, "the fetch never wrote part of its temporary file")
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(process.terminationStatus, signal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
        return (name, segment, environment)
    }

    func testFetchKilledMidDownloadLeavesNoFileAndARerunSucceeds() throws {
        let (name, segment, environment) = try interruptFetch(number: 0x106, with: SIGKILL)
        let rerun = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), segment.bytes)
        XCTAssertEqual(try temporaryFiles(), [], "the rerun removes what the killed fetch left")
    }

    func testFetchStoppedBySIGTERMRemovesItsTemporaryFile() throws {
        _ = try interruptFetch(number: 0x107, with: SIGTERM)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: walDirectory).filter { $0 != ".wal-archive" }, [])
    }
}
