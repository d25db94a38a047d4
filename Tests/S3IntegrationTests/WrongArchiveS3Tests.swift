import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// A mistyped prefix on the signature-checking local S3 stops recovery naming the full URL.
final class WrongArchiveS3Tests: BuiltToolTestCase {
    /// A new prefix given the archive identity, and the tools' environment for it (no push-ahead).
    private func initialisedArchive(_ server: LocalS3Server) throws -> (prefix: String, environment: [String: String]) {
        let prefix = String(server.uniquePrefix("prefix").dropLast())
        let environment = ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
                           "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                           "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_PUSH_AHEAD": "0"]
        try TestArchives.initialize(environment: environment)
        return (prefix, environment)
    }

    func testAMistypedPrefixStopsRecoveryNamingTheFullURL() throws {
        let server = try LocalS3Server.shared()
        let (prefix, archived) = try initialisedArchive(server)
        var environment = archived
        let name = segmentName(timeline: 1, number: 0x92)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)

        // The archive itself: a missing file is "not in the archive", naming the prefix.
        let next = segmentName(timeline: 1, number: 0x93)
        let missing = try run("wal-fetch", [next, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(missing.status, 1, missing.stderr)
        assertOneLine(missing, "wal-fetch: \(next) is not in the archive s3://\(server.bucket)/\(prefix) at \(server.endpoint)")

        environment["WAL_ARCHIVE_URL"] = "s3://\(server.bucket)/\(prefix)-typo"
        for standby in [false, true] {
            if standby { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data())) }
            for file in [name, "00000002.history"] {
                let fetch = try run("wal-fetch", [file, "pg_wal/RECOVERYXLOG"], environment: environment)
                XCTAssertEqual(fetch.status, 255, fetch.stderr)
                assertOneLine(fetch, "wal-fetch: s3://\(server.bucket)/\(prefix)-typo/wal-archive.json at \(server.endpoint) "
                              + "has no archive identity")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
    }

    /// wal-push to a mistyped prefix: exit 1 (PostgreSQL retries, visibly) naming the full URL
    /// with the prefix and the `wal-archive init` command, and nothing written there; the next
    /// segment still goes to the right prefix once the setting is fixed.
    func testAPushToAMistypedPrefixIsRefusedNamingTheFullURLAndWritesNothing() throws {
        let server = try LocalS3Server.shared()
        let (prefix, archived) = try initialisedArchive(server)
        var environment = archived
        let name = segmentName(timeline: 1, number: 0x94)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)

        environment["WAL_ARCHIVE_URL"] = "s3://\(server.bucket)/\(prefix)-typo"
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment)
        XCTAssertEqual(push.status, 1, push.stderr)
        assertOneLine(push, "wal-push: s3://\(server.bucket)/\(prefix)-typo/wal-archive.json at \(server.endpoint) has no archive identity")
        XCTAssertTrue(push.stderr.contains("wal-archive init --url=s3://\(server.bucket)/\(prefix)-typo"), push.stderr)
        let store = try S3Store(settings: server.settings())
        XCTAssertEqual(try store.list(prefix: prefix + "-typo/", delimiter: nil, startAfter: nil, limit: 10).keys, [])

        environment["WAL_ARCHIVE_URL"] = "s3://\(server.bucket)/\(prefix)"
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)
    }
}
