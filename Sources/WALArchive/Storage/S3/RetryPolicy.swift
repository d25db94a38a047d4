/// When to try a request again: governed by a time budget, so that a storm of 503s or resets
/// lasting a few seconds is waited out instead of ending a recovery, while a dead endpoint
/// still costs a PostgreSQL archiver or recovery a known, bounded wait. The attempt count is
/// only a safety cap.
///
/// The pause before attempt n+1 grows exponentially (base × 2^(n−1), at most `maxDelay`) with
/// "equal jitter": half of it fixed, so pauses really do grow, half random, so that the push-ahead
/// threads, the prefetch worker's connections and other clients of the same store do not retry
/// in lockstep. The last attempt is placed so that it still has `minimumAttemptMilliseconds` of
/// the budget; every attempt's transfer is given what is left of the budget as its deadline.
struct RetryPolicy {
    var maxAttempts: Int
    var budgetMilliseconds: Int
    var baseDelayMilliseconds = 100
    var maxDelayMilliseconds = 5_000
    /// An attempt is not started with less than this left of the budget (a request to a healthy
    /// store needs a few milliseconds, one through a congested link up to about a second).
    static let minimumAttemptMilliseconds = 1_000

    init(maxAttempts: Int, budgetSeconds: Int) {
        self.maxAttempts = max(1, maxAttempts)
        self.budgetMilliseconds = max(0, budgetSeconds) * 1_000
    }

    /// The pause before attempt `attempt + 1` (attempts count from 1), or nil when no further
    /// attempt fits: the cap is reached, or less than `minimumAttemptMilliseconds` of the budget
    /// would be left after the pause.
    func delayBeforeRetry(after attempt: Int, elapsedMilliseconds: Int) -> Int? {
        guard attempt < maxAttempts else { return nil }
        let latestStart = budgetMilliseconds - Self.minimumAttemptMilliseconds
        guard elapsedMilliseconds < latestStart else { return nil }
        let ceiling = min(maxDelayMilliseconds, baseDelayMilliseconds << min(attempt - 1, 16))
        let delay = ceiling / 2 + Int.random(in: 0...(ceiling - ceiling / 2))
        return min(delay, latestStart - elapsedMilliseconds)
    }

    /// The deadline of one attempt's whole exchange (connect, send, receive): what is left of
    /// the budget, but never less than `minimumAttemptMilliseconds`.
    func attemptTimeoutMilliseconds(elapsedMilliseconds: Int) -> Int {
        max(Self.minimumAttemptMilliseconds, budgetMilliseconds - elapsedMilliseconds)
    }
}
