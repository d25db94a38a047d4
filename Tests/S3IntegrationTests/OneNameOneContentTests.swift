import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// One file name, one content: whatever date partition or compression a second push of a name
/// would use, an archive never holds two different files under that name.
final class OneNameOneContentTests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("unique").dropLast())
        try TestArchives.initialize(environment: environment)
    }

    private var environment: [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey,
         "WAL_ARCHIVE_RETRY_BUDGET": "5", "WAL_ARCHIVE_MAX_ATTEMPTS": "2", "WAL_ARCHIVE_PUSH_AHEAD": "0"]
    }

    /// Every key under the prefix whose file name starts with `name`.
    private func keys(holding name: String) throws -> [String] {
        let store = try S3Store(settings: server.settings())
        return try store.list(prefix: prefix + "/", delimiter: nil, startAfter: nil, limit: 1000).keys
            .filter { FileOperations.baseName($0).hasPrefix(name) }
    }

    /// The same system's segment name, then a different file under it two days later and with
    /// gzip instead of zstd: refused (exit 4), never stored beside the first, and a fetch
    /// returns the first.
    func testADifferentFileOfTheSameSystemIsRefusedOnALaterDateAndWithAnotherCompression() throws {
        let name = segmentName(timeline: 1, number: 0x71)
        let walDirectory = dataDirectory + "/pg_wal"
        let first = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20, seed: 1)
        try TestSegments.setModificationTime(first.path, UTCTime(secondsSinceEpoch: 1_767_225_600))
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr)

        let second = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20, seed: 2)
        try TestSegments.setModificationTime(second.path, UTCTime(secondsSinceEpoch: 1_767_225_600 + 2 * 86_400))
        var gzip = environment
        gzip["WAL_ARCHIVE_COMPRESSION"] = "gzip"
        let conflict = try run("wal-push", ["pg_wal/" + name], environment: gzip)
        XCTAssertEqual(conflict.status, 4, conflict.stderr)
        assertOneLine(conflict, "wal-push: a different file is already archived as ")
        let stored = try keys(holding: name).filter { !$0.contains("/names/") }
        XCTAssertEqual(stored.count, 1, "\(stored)")
        XCTAssertTrue(conflict.stderr.contains(stored[0]), conflict.stderr)

        try FileManager.default.removeItem(atPath: second.path)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), first.bytes)
    }

    /// Another cluster's segment of the same name, later and with gzip: refused (exit 4) naming
    /// both system identifiers; nothing of it is stored.
    func testAnotherSystemsSegmentIsRefusedNamingBothSystems() throws {
        let name = segmentName(timeline: 1, number: 0x72)
        let walDirectory = dataDirectory + "/pg_wal"
        let first = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20, seed: 1)
        try TestSegments.setModificationTime(first.path, UTCTime(secondsSinceEpoch: 1_767_225_600))
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)

        let foreignSystem: UInt64 = 7_399_999_999_999_999_999
        let foreign = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20, seed: 2,
                                                    systemIdentifier: foreignSystem)
        try TestSegments.setModificationTime(foreign.path, UTCTime(secondsSinceEpoch: 1_767_225_600 + 2 * 86_400))
        var gzip = environment
        gzip["WAL_ARCHIVE_COMPRESSION"] = "gzip"
        let refused = try run("wal-push", ["pg_wal/" + name], environment: gzip)
        XCTAssertEqual(refused.status, 4, refused.stderr)
        assertOneLine(refused, "wal-push: ")
        XCTAssertTrue(refused.stderr.contains(String(foreignSystem)), refused.stderr)
        XCTAssertTrue(refused.stderr.contains(String(TestSegments.systemIdentifier)), refused.stderr)
        let stored = try keys(holding: name).filter { !$0.contains("/names/") }
        XCTAssertEqual(stored.count, 1, "\(stored)")
    }
}
