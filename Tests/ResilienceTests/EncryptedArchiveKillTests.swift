import Foundation
import XCTest
import TestSupport

/// The kill tests (KillScenarios) against an archive with client-side encryption, on a
/// directory and on the local S3: encryption adds work between reading a segment and storing
/// it (and between downloading and writing %p), so a kill lands in it too; nothing changes in
/// what a kill may leave or claim.
final class EncryptedArchiveKillTests: EncryptedArchiveTestCase {
    func testKilledPushesOfAnEncryptedDirectoryArchiveLeaveNothingBehind() throws {
        try pushesSurviveKills(environment: withKey(directoryEnvironment), archiveRoot: archive,
                               rounds: .fromEnvironment(defaultRounds: 6))
    }

    func testKilledFetchesOfAnEncryptedDirectoryArchiveLeaveNothingBehind() throws {
        try fetchesSurviveKills(environment: withKey(directoryEnvironment), rounds: .fromEnvironment(defaultRounds: 6))
    }

    func testKilledPushesOfAnEncryptedS3ArchiveLeaveNothingBehind() throws {
        try pushesSurviveKills(environment: withKey(try LocalS3Server.shared().toolEnvironment("kill-push-encrypted")),
                               archiveRoot: nil, rounds: .fromEnvironment(defaultRounds: 5))
    }

    func testKilledFetchesOfAnEncryptedS3ArchiveLeaveNothingBehind() throws {
        try fetchesSurviveKills(environment: withKey(try LocalS3Server.shared().toolEnvironment("kill-fetch-encrypted")),
                                rounds: .fromEnvironment(defaultRounds: 5))
    }
}
