import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Push-ahead against the signature-checking local S3 server.
final class PushAheadS3Tests: XCTestCase {
    private func environment(_ server: LocalS3Server, prefix: String) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_PUSH_AHEAD": "2",
         "WAL_ARCHIVE_MAX_ATTEMPTS": "1", "WAL_ARCHIVE_RETRY_BUDGET": "2", "WAL_ARCHIVE_CONNECT_TIMEOUT": "1"]
    }

    /// The archived segment names (date partitions only: not the identity or the claims).
    private func archivedSegments(_ server: LocalS3Server, prefix: String) throws -> [String] {
        let keys = try S3Store(settings: server.settings()).list(prefix: prefix + "/", delimiter: nil, startAfter: nil, limit: 100).keys
        return keys.filter { StorageLayout.isCalendarDate(Substring($0.dropFirst(prefix.count + 1).prefix(10))) }
            .map { String(FileOperations.baseName($0).prefix(24)) }.sorted()
    }

    /// With the store gone (the same store: same endpoint, bucket, prefix, key), a recorded
    /// file still returns 0 (no request is made), and an unrecorded one fails: the record is
    /// what answered.
    func testLaterCallsThroughTheCommandMakeNoRequests() throws {
        let server = try LocalS3Server.start(arguments: [])
        defer { server.stop() }
        let prefix = String(server.uniquePrefix("pushahead").dropLast())
        let environment = environment(server, prefix: prefix)
        let cluster = try PushAheadCluster.make(self, count: 4, environment: environment)
        try TestArchives.initialize(environment: environment)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.records().count, 3)
        XCTAssertEqual(try archivedSegments(server, prefix: prefix), (1...4).map { segmentName(timeline: 1, number: $0) })

        server.stop()
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: cluster.environment), 0)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: cluster.environment), 1, "the record was used up")
    }

    /// Records are keyed by the whole store: after the endpoint and account change (same bucket
    /// and prefix on another server), a record made for the old store answers nothing, and the
    /// file is stored in the new one.
    func testPushAheadRecordsOfAnotherStoreAreNotTrusted() throws {
        let server = try LocalS3Server.start(arguments: [])
        defer { server.stop() }
        let other = try LocalS3Server.start(arguments: [])
        defer { other.stop() }
        XCTAssertEqual(other.bucket, server.bucket)
        let prefix = String(server.uniquePrefix("pushahead-moved").dropLast())
        let cluster = try PushAheadCluster.make(self, count: 3, environment: environment(server, prefix: prefix))
        try TestArchives.initialize(environment: environment(server, prefix: prefix))
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.records().count, 2)

        var moved = HermeticEnvironment.merged(with: environment(other, prefix: prefix))
        moved["WAL_ARCHIVE_PUSH_AHEAD"] = "0"
        try TestArchives.initialize(environment: moved)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: moved), 0)
        XCTAssertEqual(try archivedSegments(other, prefix: prefix), [segmentName(timeline: 1, number: 2)],
                       "the new store does not hold the segment")
    }
}
