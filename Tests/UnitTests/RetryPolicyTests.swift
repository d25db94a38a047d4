import XCTest
@testable import WALArchive

final class RetryPolicyTests: XCTestCase {
    func testPausesGrowExponentiallyWithJitterUpToTheirCeiling() {
        let policy = RetryPolicy(maxAttempts: 100, budgetSeconds: 600)
        for _ in 0..<200 {
            for attempt in 1...12 {
                let ceiling = min(5_000, 100 << (attempt - 1))
                let delay = policy.delayBeforeRetry(after: attempt, elapsedMilliseconds: 0)
                XCTAssertNotNil(delay)
                XCTAssertGreaterThanOrEqual(delay ?? 0, ceiling / 2, "half of each pause is fixed, so pauses grow")
                XCTAssertLessThanOrEqual(delay ?? .max, ceiling)
            }
        }
        let spread = Set((0..<50).map { _ in policy.delayBeforeRetry(after: 8, elapsedMilliseconds: 0) ?? 0 })
        XCTAssertGreaterThan(spread.count, 1, "the other half is random")
    }

    /// The budget, not the attempt count, ends retries: a storm longer than five quick
    /// attempts is still inside it.
    func testRetriesLastUntilTheBudgetIsSpentAndTheCapIsOnlyASafetyNet() {
        let policy = RetryPolicy(maxAttempts: S3Settings(bucket: "b", endpoint: nil, region: "r",
                                                         credentials: .init(accessKeyID: "a", secretAccessKey: "s")).maxAttempts,
                                 budgetSeconds: 60)
        var elapsed = 0
        var attempts = 1
        while let delay = policy.delayBeforeRetry(after: attempts, elapsedMilliseconds: elapsed) {
            elapsed += delay
            attempts += 1
        }
        XCTAssertGreaterThan(attempts, 10, "instant failures are retried for the whole budget")
        XCTAssertLessThan(attempts, 100, "the budget ended the retries, not the cap")
        XCTAssertLessThanOrEqual(elapsed, 59_000, "the last attempt starts with a second of the budget left")
        XCTAssertGreaterThan(elapsed, 50_000)

        let capped = RetryPolicy(maxAttempts: 4, budgetSeconds: 600)
        XCTAssertNotNil(capped.delayBeforeRetry(after: 3, elapsedMilliseconds: 0))
        XCTAssertNil(capped.delayBeforeRetry(after: 4, elapsedMilliseconds: 0))
    }

    func testTheLastAttemptKeepsASecondOfTheBudgetAndEveryAttemptGetsTheRestAsItsDeadline() {
        let policy = RetryPolicy(maxAttempts: 100, budgetSeconds: 10)
        XCTAssertNil(policy.delayBeforeRetry(after: 1, elapsedMilliseconds: 9_000))
        XCTAssertNil(policy.delayBeforeRetry(after: 1, elapsedMilliseconds: 9_500))
        for _ in 0..<100 {
            let late = policy.delayBeforeRetry(after: 12, elapsedMilliseconds: 8_000)
            XCTAssertLessThanOrEqual(late ?? .max, 1_000, "shortened so that one more attempt fits")
        }
        XCTAssertEqual(policy.attemptTimeoutMilliseconds(elapsedMilliseconds: 0), 10_000)
        XCTAssertEqual(policy.attemptTimeoutMilliseconds(elapsedMilliseconds: 7_500), 2_500)
        XCTAssertEqual(policy.attemptTimeoutMilliseconds(elapsedMilliseconds: 9_900), 1_000)
    }
}
