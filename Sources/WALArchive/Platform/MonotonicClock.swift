import Glibc

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
        sleep(nanoseconds: Int64(milliseconds) * 1_000_000)
    }

    /// Sleeps the whole time, resuming after a signal interrupted it.
    static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }
}
