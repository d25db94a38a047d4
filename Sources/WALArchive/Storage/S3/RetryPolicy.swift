import Glibc

/// Exponential backoff with full jitter, bounded by a number of attempts and a total time
/// budget, so a dead endpoint costs a PostgreSQL archiver a known, bounded wait.
struct RetryPolicy {
    var maxAttempts: Int
    var budgetMilliseconds: Int
    var baseDelayMilliseconds = 100
    var maxDelayMilliseconds = 5_000

    init(maxAttempts: Int, budgetSeconds: Int) {
        self.maxAttempts = max(1, maxAttempts)
        self.budgetMilliseconds = max(0, budgetSeconds) * 1_000
    }

    /// The pause before attempt `attempt + 1` (attempts count from 1), or nil when no
    /// further attempt fits: too many attempts, or the pause would end past the budget.
    func delayBeforeRetry(after attempt: Int, elapsedMilliseconds: Int) -> Int? {
        guard attempt < maxAttempts else { return nil }
        let ceiling = min(maxDelayMilliseconds, baseDelayMilliseconds << min(attempt - 1, 16))
        let delay = Int.random(in: 0...ceiling)
        guard elapsedMilliseconds + delay < budgetMilliseconds else { return nil }
        return delay
    }

    /// What is left of the budget, for capping one attempt's connect timeout.
    func remainingMilliseconds(elapsedMilliseconds: Int) -> Int {
        max(0, budgetMilliseconds - elapsedMilliseconds)
    }
}

/// Milliseconds on the monotonic clock, for budgets that wall-clock jumps must not stretch.
struct MonotonicClock {
    private let start = MonotonicClock.nowMilliseconds()

    var elapsedMilliseconds: Int { MonotonicClock.nowMilliseconds() - start }

    static func nowMilliseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int(spec.tv_sec) * 1_000 + Int(spec.tv_nsec) / 1_000_000
    }

    static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }
}
