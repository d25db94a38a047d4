import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The built tools on really full file systems (a small tmpfs mounted as `pg_wal`):
/// archiving needs no free space in `pg_wal`.
final class FullFileSystemTests: BuiltToolTestCase {
    static let segmentSize = 4 << 20

    private func s3Environment() throws -> [String: String] {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix("full").dropLast())
        return ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
                "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey, "WAL_ARCHIVE_RETRY_BUDGET": "10"]
    }

    /// Three ready segments in a `pg_wal` that is a tmpfs with no free byte left; the first
    /// call pushes the others ahead, and every call exits 0.
    private func archivesFromAFullPGWAL(_ environment: [String: String]) throws {
        let walDirectory = dataDirectory + "/pg_wal"
        try SmallFileSystem.mount(self, bytes: 3 * Self.segmentSize + (1 << 20), on: walDirectory)
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        var segments: [String: Data] = [:]
        for number in 1...3 {
            let name = segmentName(timeline: 1, number: number)
            segments[name] = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: Self.segmentSize).bytes
            XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(name).ready", contents: Data()))
        }
        try SmallFileSystem.fill(walDirectory)
        XCTAssertLessThan(SmallFileSystem.freeBytes(walDirectory), 4096)

        var pushing = environment
        pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
        for name in segments.keys.sorted() {
            let push = try run("wal-push", ["pg_wal/" + name], environment: pushing)
            XCTAssertEqual(push.status, 0, "\(name): \(push.stderr)")
        }

        // Restored elsewhere, every segment is what was archived.
        let elsewhere = try makeTemporaryDirectory(self, "full-restore")
        for (name, bytes) in segments {
            let destination = elsewhere + "/" + name
            let fetch = try run("wal-fetch", [name, destination], environment: environment)
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), bytes, name)
        }
    }

    func testArchivingToADirectoryNeedsNoFreeSpaceInPGWAL() throws {
        try archivesFromAFullPGWAL(directoryEnvironment)
    }

    func testArchivingToS3NeedsNoFreeSpaceInPGWAL() throws {
        try archivesFromAFullPGWAL(try s3Environment())
    }
}
