import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The tools keep state only in private directories of their own (`pg_wal/.wal-archive` and
/// below): a symlink there is never followed, and a directory another user owns or may write
/// to is not used. Prefetch, push-ahead and hints are then skipped; fetch and push still work.
final class StateDirectoryTrustTests: BuiltToolTestCase {
    static let segmentSize = 1 << 20

    /// Segments 1…`count` archived in the directory archive; nothing in pg_wal.

    /// A directory elsewhere holding files whose names the tools would act on.
    private func victim() throws -> (path: String, contents: [String: Data]) {
        let path = try makeTemporaryDirectory(self, "victim")
        let contents: [String: Data] = [
            segmentName(timeline: 1, number: 2): Data("not a segment".utf8),
            segmentName(timeline: 1, number: 3) + ".0123456789abcdef." + String(repeating: "a", count: 64): Data("x".utf8),
            "hint-00000001": Data("precious".utf8),
            "precious": Data("precious".utf8),
        ]
        for (name, bytes) in contents { XCTAssertTrue(FileManager.default.createFile(atPath: path + "/" + name, contents: bytes)) }
        return (path, contents)
    }

    private func assertUntouched(_ victim: (path: String, contents: [String: Data]), file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: victim.path).sorted()
        XCTAssertEqual(names, victim.contents.keys.sorted(), "files appeared or vanished", file: file, line: line)
        for (name, bytes) in victim.contents {
            XCTAssertEqual(FileManager.default.contents(atPath: victim.path + "/" + name), bytes, name, file: file, line: line)
        }
    }

    private var stateDirectory: String { walDirectory + "/.wal-archive" }

    func testASymlinkedPrefetchDirectoryIsNeverFollowed() throws {
        let segments = try archiveTestSegments(4, segmentSize: Self.segmentSize)
        let victim = try victim()
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        XCTAssertEqual(mkdir(stateDirectory, 0o700), 0)
        XCTAssertEqual(symlink(victim.path, stateDirectory + "/prefetch"), 0)

        let first = segmentName(timeline: 1, number: 1)
        XCTAssertNil(RestorePrefetch(count: 8, name: first, destination: walDirectory + "/RECOVERYXLOG", storeIdentity: directoryStoreIdentity))
        for number in 1...3 {
            let name = segmentName(timeline: 1, number: number)
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
            XCTAssertEqual(fetch.status, 0, fetch.stderr)
            XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG"), segments[name])
            PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        }
        try assertUntouched(victim)

        // Promoted: the first wal-push cleans up after recovery, but not through the symlink.
        try FileManager.default.removeItem(atPath: dataDirectory + "/recovery.signal")
        let name = segmentName(timeline: 1, number: 9)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: Self.segmentSize)
        let push = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(push.status, 0, push.stderr)
        WALDirectory(path: walDirectory).removePrefetchedSegments()
        try assertUntouched(victim)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: stateDirectory + "/prefetch"), victim.path)
    }

    /// `pg_wal/.wal-archive` itself a symlink, or a real directory of another user, or one
    /// others may write to: no push-ahead records, no hints, no prefetch there, and both tools
    /// still do their job.
    func testAStateDirectoryThatIsASymlinkOrNotPrivateIsNotUsed() throws {
        let segments = try archiveTestSegments(3, segmentSize: Self.segmentSize)
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        let kinds: [(String, (String) throws -> Void)] = [
            ("symlink", { victim in XCTAssertEqual(symlink(victim, self.stateDirectory), 0) }),
            // Giving a directory away needs root (CI runs as root); as another user, the
            // symlink and the mode cases still run.
            ("another user's", { _ in
                XCTAssertEqual(mkdir(self.stateDirectory, 0o700), 0)
                XCTAssertEqual(chown(self.stateDirectory, 65534, 65534), 0)
            }),
            ("writable by others", { _ in
                XCTAssertEqual(mkdir(self.stateDirectory, 0o700), 0)
                XCTAssertEqual(chmod(self.stateDirectory, 0o777), 0)
            }),
        ]
        for (number, (kind, make)) in kinds.enumerated() where geteuid() == 0 || kind != "another user's" {
            let victim = try victim()
            try make(victim.path)
            let watched = kind == "symlink" ? victim.path : stateDirectory
            let before = try FileManager.default.contentsOfDirectory(atPath: watched).sorted()

            // Push with push-ahead: two ready files after its own.
            let names = (0..<3).map { segmentName(timeline: 2, number: 0x10 * (number + 1) + $0) }
            for name in names {
                _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: Self.segmentSize)
                XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(name).ready", contents: Data()))
            }
            var pushing = directoryEnvironment
            pushing["WAL_ARCHIVE_PUSH_AHEAD"] = "2"
            for name in names {
                let push = try run("wal-push", ["pg_wal/" + name], environment: pushing)
                XCTAssertEqual(push.status, 0, "\(kind): \(push.stderr)")
            }

            // Fetch in recovery (prefetch and hints would write there).
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
            for (name, bytes) in segments {
                let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
                XCTAssertEqual(fetch.status, 0, "\(kind): \(fetch.stderr)")
                XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG"), bytes, kind)
            }
            try FileManager.default.removeItem(atPath: dataDirectory + "/recovery.signal")

            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: watched).sorted(), before, "\(kind): used")
            if kind == "symlink" { try assertUntouched(victim) }
            XCTAssertEqual(unlink(stateDirectory) == 0 || rmdir(stateDirectory) == 0, true)
            for name in names { try FileManager.default.removeItem(atPath: walDirectory + "/archive_status/\(name).ready") }
        }
    }
}
