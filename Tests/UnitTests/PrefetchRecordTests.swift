import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// A prefetched file is served without reading its bytes again only when the worker's record
/// proves it the very file the worker verified, in this boot; anything else is verified in
/// full, and a changed file never reaches `%p`. Whether the bytes were read again is counted
/// (the bytes this process read, /proc/self/io), never timed.
final class PrefetchRecordTests: XCTestCase {
    typealias Cluster = PrefetchTestCluster
    static let segmentSize = Cluster.segmentSize

    /// Segments 1…`count` archived, an empty data directory in archive recovery, and the
    /// worker's batch after segment 1 (segments 2…`count`).
    func makePrefetchedCluster(count: Int) throws -> Cluster {
        let cluster = try Cluster.make(self, count: count)
        XCTAssertEqual(try runBatch(cluster, after: 1, count: count - 1), count - 1)
        return cluster
    }

    func prefetch(_ cluster: Cluster, after number: Int, count: Int) throws -> RestorePrefetch {
        try cluster.prefetch(count: count, after: number)
    }

    func runBatch(_ cluster: Cluster, after number: Int, count: Int) throws -> Int {
        try cluster.runBatch(try cluster.prefetch(count: count, after: number))
    }

    /// Bytes this process has read so far (read, pread and the like), from /proc/self/io.
    func bytesRead() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("rchar:") })
        return try XCTUnwrap(Int(line.dropFirst("rchar:".count).trimmingCharacters(in: .whitespaces)))
    }

    /// Serves segment `number` (the call asking for it) and counts the bytes read meanwhile.
    func serve(_ cluster: Cluster, _ number: Int) throws -> (served: RestorePrefetch.Served?, bytesRead: Int) {
        let prefetch = try prefetch(cluster, after: number, count: 1)
        unlink(cluster.destination)
        let before = try bytesRead()
        let served = prefetch.serve()
        return (served, try bytesRead() - before)
    }

    /// Serves segment `number` and requires that it was verified in full (the whole file read)
    /// and that %p holds exactly its bytes.
    func assertServedAfterFullVerification(_ cluster: Cluster, _ number: Int,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        let verified = try serve(cluster, number)
        XCTAssertEqual(verified.served?.trustedByRecord, false, "segment \(number)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(verified.bytesRead, Self.segmentSize, "segment \(number)", file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[segmentName(timeline: 1, number: number)],
                       "segment \(number)", file: file, line: line)
    }

    func record(_ cluster: Cluster, of fileName: String) throws -> PrefetchRecord {
        let text = try String(contentsOfFile: cluster.recordsDirectory + "/" + fileName, encoding: .utf8)
        return try XCTUnwrap(PrefetchRecord(text: text, archiveTag: cluster.storeIdentity.tag))
    }

    func testAFileWhoseRecordMatchesIsServedWithoutReadingItAgain() throws {
        let cluster = try makePrefetchedCluster(count: 3)
        let second = try cluster.prefetched(2), third = try cluster.prefetched(3)
        XCTAssertEqual(try cluster.records(), [second, third], "the worker recorded each file it placed")
        XCTAssertEqual(try record(cluster, of: second).identity, FileIdentity(path: cluster.prefetchDirectory + "/" + second))
        XCTAssertEqual(try record(cluster, of: second).bootIdentifier, BootIdentifier.current)

        let trusted = try serve(cluster, 2)
        XCTAssertEqual(trusted.served?.trustedByRecord, true)
        XCTAssertLessThan(trusted.bytesRead, Self.segmentSize / 8, "the served file was read again")
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[segmentName(timeline: 1, number: 2)])
        XCTAssertEqual(try cluster.records(), [third], "a record is used up")

        // Without its record the same kind of file is read in full: the count above can tell.
        XCTAssertEqual(unlink(cluster.recordsDirectory + "/" + third), 0)
        try assertServedAfterFullVerification(cluster, 3)
    }

    func testAFileChangedAfterTheWorkerWroteItIsNeverServedAsIs() throws {
        let cluster = try makePrefetchedCluster(count: 2)
        let name = segmentName(timeline: 1, number: 2)
        let file = try cluster.prefetched(2)
        let path = cluster.prefetchDirectory + "/" + file
        let recorded = try record(cluster, of: file).identity
        // Same size, bytes flipped in the middle, modification time set back as it was.
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        let descriptor = open(path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        let flipped: [UInt8] = [0xde, 0xad, 0xbe, 0xef]
        XCTAssertEqual(pwrite(descriptor, flipped, flipped.count, off_t(Self.segmentSize / 2)), flipped.count)
        close(descriptor)
        var times = [info.st_atim, info.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        let changed = try XCTUnwrap(FileIdentity(path: path))
        XCTAssertEqual(changed.size, recorded.size)
        XCTAssertEqual(changed.modificationNanoseconds, recorded.modificationNanoseconds)
        XCTAssertEqual(changed.inode, recorded.inode)
        XCTAssertNotEqual(changed.changeNanoseconds, recorded.changeNanoseconds, "only the status-change time tells")

        // Verified in full, refused and removed: nothing at %p; the call then downloads it.
        let served = try serve(cluster, 2)
        XCTAssertNil(served.served)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.destination))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try cluster.records(), [])
        XCTAssertEqual(FetchCommand.run(arguments: [name, cluster.destination], environment: cluster.environment), 0)
        XCTAssertEqual(FileManager.default.contents(atPath: cluster.destination), cluster.segments[name])
    }

    func testARecordOfAnotherBootIsNotTrusted() throws {
        let cluster = try makePrefetchedCluster(count: 2)
        let file = try cluster.prefetched(2)
        var record = try record(cluster, of: file)
        XCTAssertNotEqual(BootIdentifier.current, "00000000-0000-4000-8000-000000000000")
        record.bootIdentifier = "00000000-0000-4000-8000-000000000000"
        try record.write(in: cluster.recordsDirectory, archiveTag: cluster.storeIdentity.tag)

        try assertServedAfterFullVerification(cluster, 2)
    }

    func testARecordWithAWrongChecksumStoreOrFileIsNotTrusted() throws {
        let cluster = try makePrefetchedCluster(count: 4)
        let tag = cluster.storeIdentity.tag
        // Segment 2: one digit of the checksum changed.
        let second = try cluster.prefetched(2)
        let secondPath = cluster.recordsDirectory + "/" + second
        var lines = try String(contentsOfFile: secondPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let checksum = lines[lines.count - 2]
        lines[lines.count - 2] = (checksum.first == "0" ? "1" : "0") + checksum.dropFirst()
        try lines.joined(separator: "\n").write(toFile: secondPath, atomically: false, encoding: .utf8)
        // Segment 3: a valid record, but of another store.
        let third = try cluster.prefetched(3)
        XCTAssertNotEqual(tag, "0123456789abcdef")
        try FileOperations.writeAtomically(Array(try record(cluster, of: third).encoded(archiveTag: "0123456789abcdef").utf8),
                                           to: cluster.recordsDirectory + "/" + third, durable: false)
        // Segment 4: a valid record of its name holding another file's identity (segment 3's).
        let fourth = try cluster.prefetched(4)
        var borrowed = try record(cluster, of: fourth)
        borrowed.identity = try XCTUnwrap(FileIdentity(path: cluster.prefetchDirectory + "/" + third))
        try borrowed.write(in: cluster.recordsDirectory, archiveTag: tag)

        for number in 2...4 {
            try assertServedAfterFullVerification(cluster, number)
        }
    }

    func testRecordsGoWithTheirFiles() throws {
        let cluster = try makePrefetchedCluster(count: 4)
        XCTAssertEqual(try cluster.records().count, 3)
        // Asked for segment 3 with K = 1: 2 is stale, 4 is kept with its record, 3's file is the
        // requested segment's (kept for a second request, without its record: verified in full then).
        XCTAssertEqual(try runBatch(cluster, after: 3, count: 1), 0)
        XCTAssertEqual(try cluster.records(), [try cluster.prefetched(4)])
        // Recovery over: the worker removes both directories.
        let prefetch = try prefetch(cluster, after: 3, count: 2)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory + "/recovery.signal")
        XCTAssertEqual(try cluster.runBatch(prefetch), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.prefetchDirectory))
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.recordsDirectory))
    }
}
