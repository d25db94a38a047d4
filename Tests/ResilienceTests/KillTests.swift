import Foundation
import XCTest
import TestSupport

/// SIGKILL at random moments of the built tools with a directory archive: the next call leaves
/// nothing behind (KillScenarios says how to run many more rounds; S3: KillS3Tests).
final class KillTests: BuiltToolTestCase {
    /// The archive on a disk rather than tmpfs: fsync takes real time there, so a killed upload
    /// more often dies while its temporary file is in the archive.
    private func diskArchive() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kill-archive-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testKilledPushesLeaveNothingBehindAfterTheNextCall() throws {
        let root = try diskArchive()
        try pushesSurviveKills(environment: ["WAL_ARCHIVE_URL": "file://" + root], archiveRoot: root,
                               rounds: .fromEnvironment(defaultRounds: 6))
    }

    func testKilledFetchesLeaveNothingBehindAfterTheNextCall() throws {
        try fetchesSurviveKills(environment: directoryEnvironment, rounds: .fromEnvironment(defaultRounds: 6))
    }
}
