import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// The identity push-ahead trusts instead of reading a file again: what must change it, and
/// when push-ahead may take it.
final class FileIdentityTests: XCTestCase {
    func testIdentityRoundTripsThroughItsEncoding() throws {
        let path = try makeTemporaryDirectory(self, "identity") + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        let identity = try XCTUnwrap(FileIdentity(path: path))
        XCTAssertEqual(FileIdentity(encoded: identity.encoded), identity)
        XCTAssertNil(FileIdentity(encoded: "3\n1 2 3"), "the fields of the older format are refused")
    }

    func testAMetadataChangeAloneChangesTheIdentity() throws {
        let path = try makeTemporaryDirectory(self, "identity") + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        let before = try XCTUnwrap(FileIdentity(path: path))
        // Past the timestamp tick, so that the change is given a later time.
        usleep(UInt32(FileIdentity.settleNanoseconds / 1000))
        XCTAssertEqual(chmod(path, 0o600), 0)
        let after = try XCTUnwrap(FileIdentity(path: path))
        XCTAssertEqual(after.modificationNanoseconds, before.modificationNanoseconds)
        XCTAssertGreaterThan(after.changeNanoseconds, before.changeNanoseconds)
        XCTAssertNotEqual(after, before)
    }

    func testAReplacedFileHasAnotherIdentityEvenWithTheSameSizeAndTimes() throws {
        let directory = try makeTemporaryDirectory(self, "identity")
        let path = directory + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        let before = try XCTUnwrap(FileIdentity(path: path))
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/other", contents: Data([4, 5, 6])))
        var times = [info.st_atim, info.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, directory + "/other", &times, 0), 0)
        XCTAssertEqual(rename(directory + "/other", path), 0)
        let after = try XCTUnwrap(FileIdentity(path: path))
        XCTAssertEqual(after.size, before.size)
        XCTAssertEqual(after.modificationNanoseconds, before.modificationNanoseconds)
        XCTAssertNotEqual(after, before)
    }

    func testPushAheadTakesTheIdentityOnlyOnceTheLastChangeIsOlderThanATick() throws {
        let path = try makeTemporaryDirectory(self, "identity") + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])))
        let identity = try XCTUnwrap(AheadPusher.settledIdentity(path))
        XCTAssertGreaterThanOrEqual(identity.nanosecondsSinceChange, FileIdentity.settleNanoseconds)
        XCTAssertEqual(FileIdentity(path: path), identity)
    }
}
