import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Push-ahead through a directory archive: one `wal-push` call stores the ready files after its
/// own, records only what was stored, and PostgreSQL's later calls for them return 0 without a
/// request.
final class PushAheadTests: XCTestCase {
    func directoryCluster(count: Int, concurrency: Int = 3) throws -> (PushAheadCluster, archiveRoot: String) {
        let archiveRoot = try makeTemporaryDirectory(self, "pushahead-archive")
        let cluster = try PushAheadCluster.make(self, count: count, environment: ["WAL_ARCHIVE_URL": "file://" + archiveRoot,
                                                                                   "WAL_ARCHIVE_PUSH_AHEAD": String(concurrency)])
        try TestArchives.initialize(environment: cluster.environment)
        return (cluster, archiveRoot)
    }

    /// Archived keys of the directory store, without date and suffix.
    func archivedNames(_ archiveRoot: String) throws -> [String] {
        let listing = try DirectoryStore(root: archiveRoot).list(prefix: "", delimiter: nil, startAfter: nil, limit: 1000)
        return listing.keys.filter { StorageLayout.isCalendarDate(Substring($0.prefix(10))) }
            .map { String(FileOperations.baseName($0).prefix(24)) }.sorted()
    }

    func testOneCallStoresTheReadyFilesAndLaterCallsNeedNoRequest() throws {
        let (cluster, archiveRoot) = try directoryCluster(count: 6)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        let all = (1...6).map { segmentName(timeline: 1, number: $0) }
        XCTAssertEqual(try archivedNames(archiveRoot), all)
        XCTAssertEqual(try cluster.records(), Array(all.dropFirst()))

        // PostgreSQL's own calls: a record that matches its file answers without a store.
        let configuration = try cluster.configuration()
        for number in 2...6 {
            XCTAssertTrue(PushAhead(configuration: configuration, path: cluster.path(number)).consumeRecord())
            XCTAssertFalse(PushAhead(configuration: configuration, path: cluster.path(number)).consumeRecord(), "used up")
        }
        XCTAssertEqual(try cluster.records(), [])
    }

    func testFailedUploadsLeaveNoRecord() throws {
        let (cluster, archiveRoot) = try directoryCluster(count: 4)
        // 2: not a valid WAL file for its name; 3: a different file already archived as 3.
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: cluster.path(2)))
        bytes[0] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: cluster.path(2)))
        let other = try makeTemporaryDirectory(self, "pushahead-other")
        let conflicting = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 3), in: other,
                                                        segmentSize: PushAheadCluster.segmentSize, seed: 99)
        let date = try FileOperations.modificationTime(cluster.path(3))
        try TestSegments.setModificationTime(conflicting.path, date)
        _ = try ArchiveOperation(store: DirectoryStore(root: archiveRoot), storeIdentity: try cluster.configuration().storeIdentity,
                                 archiveIdentity: TestArchives.identity).archive(path: conflicting.path)

        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.records(), [segmentName(timeline: 1, number: 4)])
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(2)], environment: cluster.environment), 3)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(3)], environment: cluster.environment), 4)
    }

    func testARecordWhoseFileDiffersIsNotTrusted() throws {
        let (cluster, _) = try directoryCluster(count: 3)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.records().count, 2)
        // Same size, inode and modification time to the nanosecond, one byte different: the
        // status-change time tells, which the write and the utimensat both set to now.
        var before = stat()
        XCTAssertEqual(stat(cluster.path(2), &before), 0)
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: cluster.path(2)))
        try handle.seek(toOffset: UInt64(PushAheadCluster.segmentSize - 1))
        try handle.write(contentsOf: Data([0x5a]))
        try handle.close()
        var times = [before.st_atim, before.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, cluster.path(2), &times, 0), 0)
        var after = stat()
        XCTAssertEqual(stat(cluster.path(2), &after), 0)
        XCTAssertEqual(after.st_ino, before.st_ino)
        XCTAssertEqual(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec)
        let configuration = try cluster.configuration()
        XCTAssertFalse(PushAhead(configuration: configuration, path: cluster.path(2)).consumeRecord())
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.recordDirectory + "/" + segmentName(timeline: 1, number: 2)))
        // A record of another archive is not trusted either.
        let elsewhere = PushAhead(concurrency: 0, path: cluster.path(3),
                                  storeIdentity: StoreIdentity(backend: .directory(root: "/elsewhere"), prefix: ""))
        XCTAssertFalse(elsewhere.consumeRecord())
        XCTAssertEqual(try cluster.records(), [])
    }

    func testAGarbledRecordIsNotTrusted() throws {
        let (cluster, _) = try directoryCluster(count: 2)
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        let recordPath = cluster.recordDirectory + "/" + segmentName(timeline: 1, number: 2)
        var text = try String(contentsOfFile: recordPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "\n1048576\n", with: "\n1048577\n")
        XCTAssertTrue(text.contains("\n1048577\n"))
        try text.write(toFile: recordPath, atomically: false, encoding: .utf8)
        XCTAssertFalse(PushAhead(configuration: try cluster.configuration(), path: cluster.path(2)).consumeRecord())
    }

    func testStaleRecordsAndTemporaryFilesAreRemoved() throws {
        let (cluster, _) = try directoryCluster(count: 3, concurrency: 0)
        try FileManager.default.createDirectory(atPath: cluster.recordDirectory, withIntermediateDirectories: true)
        let gone = segmentName(timeline: 1, number: 0x40)
        let strays = [gone, TemporaryFileCleanup.name(pid: 999_999_999)]
        for stray in strays {
            XCTAssertTrue(FileManager.default.createFile(atPath: cluster.recordDirectory + "/" + stray, contents: Data([1])))
        }
        XCTAssertEqual(PushCommand.run(arguments: [cluster.path(1)], environment: cluster.environment), 0)
        XCTAssertEqual(try cluster.records(), [], "concurrency 0 pushes nothing ahead, and the strays are gone")
    }

    func testReadyFilesComeHistoryFirstThenInWALOrderWithoutTheCurrentOne() throws {
        let (cluster, _) = try directoryCluster(count: 3)
        XCTAssertTrue(FileManager.default.createFile(atPath: cluster.walDirectory + "/archive_status/00000002.history.ready",
                                                     contents: Data()))
        XCTAssertTrue(FileManager.default.createFile(atPath: cluster.walDirectory + "/archive_status/not-wal.ready", contents: Data()))
        let pushAhead = PushAhead(configuration: try cluster.configuration(), path: cluster.path(2))
        XCTAssertEqual(pushAhead.readyFiles(limit: 10),
                       ["00000002.history", segmentName(timeline: 1, number: 1), segmentName(timeline: 1, number: 3)])
        XCTAssertEqual(pushAhead.readyFiles(limit: 1), ["00000002.history"])
    }
}
