import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Push-ahead against the signature-checking local S3 server.
final class PushAheadS3Tests: XCTestCase {
    func testLaterCallsThroughTheCommandMakeNoRequests() throws {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix("pushahead").dropLast())
        let environment = ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
                           "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                           "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey,
                           "WAL_ARCHIVE_PUSH_AHEAD": "2", "WAL_ARCHIVE_MAX_ATTEMPTS": "1"]
        let cluster = try PushAheadCluster.make(self, count: 4, environment: environment)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: environment), 0)
        XCTAssertEqual(try cluster.records().count, 3)
        let s3 = try S3Store(settings: server.settings())
        let keys = try s3.list(prefix: prefix + "/", delimiter: nil, startAfter: nil, limit: 100).keys
        XCTAssertEqual(keys.map { String(FileOperations.baseName($0).prefix(24)) }.sorted(),
                       (1...4).map { segmentName(timeline: 1, number: $0) })

        // With the endpoint unreachable, a recorded file still returns 0 (no request is
        // made), and an unrecorded one fails: the record is what answered.
        var unreachable = environment
        unreachable["WAL_ARCHIVE_ENDPOINT"] = "http://127.0.0.1:9"
        unreachable["WAL_ARCHIVE_PUSH_AHEAD"] = "0"
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: unreachable), 0)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: unreachable), 1, "the record was used up")
    }
}
