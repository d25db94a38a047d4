import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// A directory archive and a `pg_wal` that is a full tmpfs: archiving needs no free space in
/// `pg_wal`, and a restore target without space says so (S3: FullFileSystemS3Tests).
final class FullFileSystemTests: BuiltToolTestCase {
    func testArchivingNeedsNoFreeSpaceInPGWAL() throws {
        try archivesFromAFullPGWAL(directoryEnvironment)
    }

    func testAFullRestoreTargetSaysSo() throws {
        try restoreTargetWithoutSpace(directoryEnvironment)
    }

    func testAQuotaThatIsUsedUpCountsAsAFullFileSystem() {
        let failure = PayloadError.local(operation: "write", path: "/data/pg_wal/.wal-archive-tmp.1.0", code: EDQUOT)
        guard case .noSpace = failure else { return XCTFail("\(failure)") }
        let error = RestoreError.destinationFull(directory: "/data/pg_wal", detail: failure.message)
        XCTAssertEqual(error.exitStatus(standbyMode: false), .fatal)
        XCTAssertTrue(error.message.contains("the file system of /data/pg_wal is full (or the quota on it)"), error.message)
        guard case .localIO = PayloadError.local(operation: "write", path: "x", code: EIO) else { return XCTFail() }
    }
}
