import XCTest
import TestSupport

/// The S3 half of FullFileSystemTests.
final class FullFileSystemS3Tests: BuiltToolTestCase {
    func testArchivingNeedsNoFreeSpaceInPGWAL() throws {
        try archivesFromAFullPGWAL(try LocalS3Server.shared().toolEnvironment("full"))
    }

    func testAFullRestoreTargetSaysSo() throws {
        try restoreTargetWithoutSpace(try LocalS3Server.shared().toolEnvironment("full"))
    }
}
