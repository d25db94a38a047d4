import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `wal-push` keeps compressed copies in memory, never on disk: its peak memory stays within
/// the upload memory limit plus the runtime, however large the segment and however many
/// uploads run at once (PreparedUploadTests prove the mechanism in the unit tier).
final class MemoryBoundS3Tests: BuiltToolTestCase {
    /// The upload memory limit plus room for the runtime, libcurl, libcrypto, the codecs and
    /// the read buffers of five threads.
    let boundKiB = (UploadMemory.shared.limit >> 10) + 96 * 1024

    private func measuredPush(_ path: String, environment: [String: String]) throws -> MeasuredProcess.Result {
        let variables = HermeticEnvironment.merged(with: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
        return try MeasuredProcess.run(TestPaths.builtProducts.appendingPathComponent("wal-push").path, [path],
                                       environment: variables, directory: dataDirectory)
    }

    /// The largest `wal_segment_size`, one random word in sixteen: about 80 MiB compressed,
    /// more than the upload memory, so it is compressed again while it is sent.
    func testAOneGiBSegmentIsArchivedInBoundedMemoryAndRestoredExactly() throws {
        let name = segmentName(timeline: 1, number: 1)
        let path = walDirectory + "/" + name
        var bytes = Data(count: 1 << 30)
        var generator = SeededGenerator(seed: 1)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in stride(from: 0, to: words.count, by: 16) { words[index] = generator.next() }
        }
        let fileName = try WALFileName(parsing: name)
        let header = WALLongPageHeader(
            magic: try XCTUnwrap(WALPageMagic.magic(ofMajorVersion: 15)), info: WALLongPageHeader.longHeaderFlag,
            timeline: fileName.timeline, pageAddress: try XCTUnwrap(fileName.startLSN(segmentSize: try XCTUnwrap(WALSegmentSize(bytes: 1 << 30)))),
            remainingLength: 0, systemIdentifier: 7_300_000_000_000_000_001, segmentSize: 1 << 30, blockSize: 8192)
        bytes.replaceSubrange(0..<WALLongPageHeader.byteCount, with: header.encoded)
        try bytes.write(to: URL(fileURLWithPath: path))
        let originalSHA256 = SHA256Hasher.hash(bytes).hexString
        bytes = Data()

        let environment = try LocalS3Server.shared().toolEnvironment("large", retryBudget: 300)
        try TestArchives.initialize(environment: environment)
        let push = try measuredPush("pg_wal/" + name, environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr)
        print("figure: wal-push of a 1 GiB segment peaked at \(push.maximumResidentKiB / 1024) MiB resident")
        XCTAssertLessThan(push.maximumResidentKiB, boundKiB)

        try FileManager.default.removeItem(atPath: path)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(SHA256Hasher.hexDigest(ofFile: walDirectory + "/RECOVERYXLOG"), originalSHA256)
    }

    /// Sixteen ready 16 MiB segments, four push-ahead threads and the call's own upload.
    func testAPushWithPushAheadStaysWithinTheMemoryBound() throws {
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        let names = (1...17).map { segmentName(timeline: 1, number: $0) }
        for name in names {
            _ = try TestSegments.writeSegment(name: name, in: walDirectory)
            XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(name).ready", contents: Data()))
        }
        var environment = try LocalS3Server.shared().toolEnvironment("memory")
        try TestArchives.initialize(environment: environment)
        environment["WAL_ARCHIVE_PUSH_AHEAD"] = "4"
        let push = try measuredPush("pg_wal/" + names[0], environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr)
        print("figure: wal-push with 4 push-ahead threads over 16 MiB segments peaked at \(push.maximumResidentKiB / 1024) MiB resident")
        XCTAssertLessThan(push.maximumResidentKiB, boundKiB)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: walDirectory + "/.wal-archive/pushed").count, 16)
    }
}
