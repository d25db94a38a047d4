import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Each place a killed call can leave a temporary file, and the call that removes it: the next
/// one that writes there (the resilience tier's KillTests kill the built tools at random
/// moments instead).
final class LeftoverTests: BuiltToolTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try TestArchives.initialize(environment: directoryEnvironment)
    }

    /// The name a writer that no longer runs would have left.
    private func abandonedName() throws -> String {
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        return TemporaryFileCleanup.name(pid: finished.processIdentifier)
    }

    private func leave(_ directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + (try abandonedName())
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 4096)))
        return path
    }

    private func segment(_ number: Int) throws -> (name: String, date: String) {
        let name = segmentName(timeline: 1, number: number)
        let segment = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)
        return (name, try FileOperations.modificationTime(segment.path).calendarDate)
    }

    func testAPushRemovesALeftoverInTheDateFolderItStoresInto() throws {
        let (name, date) = try segment(1)
        let leftover = try leave(archive + "/" + date)
        let unrelated = try leave(archive + "/2020-01-01")
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
        XCTAssertTrue(FileManager.default.fileExists(atPath: unrelated), "no call scans the whole archive")
    }

    /// Killed after the object was linked into place but before its temporary name was removed:
    /// PostgreSQL's retry finds the object stored (so it writes nothing there) and still cleans up.
    func testAPushThatFindsItsObjectStoredRemovesTheLeftoverBesideIt() throws {
        let (name, date) = try segment(2)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)
        let leftover = try leave(archive + "/" + date)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
    }

    func testAFetchRemovesLeftoversInPGWALAndItsStateDirectories() throws {
        let (name, _) = try segment(3)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)
        try FileManager.default.removeItem(atPath: walDirectory + "/" + name)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        let leftovers = [try leave(walDirectory), try leave(walDirectory + "/.wal-archive"),
                         try leave(walDirectory + "/.wal-archive/prefetch")]
        var fetching = directoryEnvironment
        fetching["WAL_ARCHIVE_PREFETCH"] = "0"
        XCTAssertEqual(try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: fetching).status, 0)
        for leftover in leftovers { XCTAssertFalse(FileManager.default.fileExists(atPath: leftover), leftover) }
    }

    /// A fetch killed at the very end of recovery: no fetch follows, so the first push of the
    /// promoted server removes its file (and only then looks, once).
    func testTheFirstPushAfterRecoveryRemovesAFetchsLeftover() throws {
        let (name, _) = try segment(4)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        XCTAssertEqual(try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment).status, 0)
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        let leftover = try leave(walDirectory)
        try FileManager.default.removeItem(atPath: dataDirectory + "/recovery.signal")
        let (next, _) = try segment(5)
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + next], environment: directoryEnvironment).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/.wal-archive/restored"), "looked once")
    }
}
