import Foundation
import XCTest
import WALArchive

/// The built tools on really full file systems (a small tmpfs mounted as `pg_wal`), for any
/// archive: the directory half runs in the unit tier, the S3 half in the S3 tier.
extension BuiltToolTestCase {
    public static let fullFileSystemSegmentSize = 4 << 20

    /// Three ready segments in a `pg_wal` that is a tmpfs with no free byte left; the first
    /// call pushes the others ahead, every call exits 0, and every segment comes back whole.
    public func archivesFromAFullPGWAL(_ environment: [String: String]) throws {
        let segmentSize = Self.fullFileSystemSegmentSize
        try TestArchives.initialize(environment: environment)
        try SmallFileSystem.mount(self, bytes: 3 * segmentSize + (1 << 20), on: walDirectory)
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        var segments: [String: Data] = [:]
        for number in 1...3 {
            let name = segmentName(timeline: 1, number: number)
            segments[name] = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: segmentSize).bytes
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

        let elsewhere = try makeTemporaryDirectory(self, "full-restore")
        for (name, bytes) in segments {
            let destination = elsewhere + "/" + name
            let fetch = try run("wal-fetch", [name, destination], environment: environment)
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: destination)), bytes, name)
        }
    }

    /// A segment archived beforehand, then a `pg_wal` too small to take it: the one line says
    /// the file system is full (not that the archive is damaged), exit 255 in archive recovery
    /// and 1 in standby mode (a local disk error: the standby asks again), nothing at %p.
    public func restoreTargetWithoutSpace(_ environment: [String: String]) throws {
        let segmentSize = Self.fullFileSystemSegmentSize
        try TestArchives.initialize(environment: environment)
        let name = segmentName(timeline: 1, number: 0x10)
        var generator = SeededGenerator(seed: 8)
        let source = try makeTemporaryDirectory(self, "full-source")
        let segment = try TestSegments.writeSegment(name: name, in: source, segmentSize: segmentSize)
        // Incompressible after the header, so the object is as large as the segment.
        var bytes = segment.bytes
        bytes.replaceSubrange(4096..<bytes.count, with: generator.uniformBytes(count: bytes.count - 4096))
        try bytes.write(to: URL(fileURLWithPath: segment.path))
        let push = try run("wal-push", [segment.path], environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr)

        try SmallFileSystem.mount(self, bytes: segmentSize / 2, on: walDirectory)
        for standby in [false, true] {
            if standby { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data())) }
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(fetch.status, standby ? 1 : 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: cannot write ")
            XCTAssertTrue(fetch.stderr.contains("No space left on device: the file system of pg_wal is full"), fetch.stderr)
            XCTAssertFalse(fetch.stderr.contains("damaged"), fetch.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
            XCTAssertEqual(try temporaryFiles(), [])
        }
    }
}

extension LocalS3Server {
    /// What the built tools need to reach a fresh prefix of the shared bucket.
    public func toolEnvironment(_ label: String, endpoint: String? = nil, retryBudget: Int = 10) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(bucket)/\(String(uniquePrefix(label).dropLast()))",
         "WAL_ARCHIVE_ENDPOINT": endpoint ?? self.endpoint, "AWS_REGION": region,
         "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
         "WAL_ARCHIVE_RETRY_BUDGET": String(retryBudget)]
    }
}
