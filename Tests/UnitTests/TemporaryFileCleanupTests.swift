import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class TemporaryFileCleanupTests: XCTestCase {
    func testRemovesOnlyTemporaryFilesOfWritersThatAreGone() throws {
        let directory = try makeTemporaryDirectory(self)
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let gone = ".wal-archive-tmp.\(finished.processIdentifier).0123456789abcdef"
        let running = ".wal-archive-tmp.1.0123456789abcdef"
        let own = ".wal-archive-tmp.\(getpid()).0123456789abcdef"
        for name in [gone, running, own, "000000010000000000000001", ".wal-archive-tmp.unrelated"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([1])))
        }
        TemporaryFileCleanup.removeAbandoned(in: directory)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       [own, running, ".wal-archive-tmp.unrelated", "000000010000000000000001"].sorted())
    }

    func testTrackedPathsAreUniqueAndInTheDirectory() {
        let first = TemporaryFileCleanup.track(in: "/tmp/x")
        let second = TemporaryFileCleanup.track(in: "/tmp/x")
        TemporaryFileCleanup.untrack()
        XCTAssertTrue(first.hasPrefix("/tmp/x/.wal-archive-tmp.\(getpid())."))
        XCTAssertNotEqual(first, second)
    }
}
