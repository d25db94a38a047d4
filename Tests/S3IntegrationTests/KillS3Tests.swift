import XCTest
import TestSupport

/// The S3 half of KillTests.
final class KillS3Tests: BuiltToolTestCase {
    func testKilledPushesLeaveNothingBehindAfterTheNextCall() throws {
        try pushesSurviveKills(environment: try LocalS3Server.shared().toolEnvironment("kill-push"), archiveRoot: nil,
                               rounds: .fromEnvironment(defaultRounds: 5))
    }

    func testKilledFetchesLeaveNothingBehindAfterTheNextCall() throws {
        try fetchesSurviveKills(environment: try LocalS3Server.shared().toolEnvironment("kill-fetch"),
                                rounds: .fromEnvironment(defaultRounds: 5))
    }
}
