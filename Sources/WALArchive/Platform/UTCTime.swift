import Glibc

/// A moment in UTC, with the few renderings the archive needs (SigV4 stamps, key dates).
public struct UTCTime: Sendable, Equatable, Comparable {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    public static func now() -> UTCTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UTCTime(secondsSinceEpoch: Int64(spec.tv_sec))
    }

    public static func < (lhs: UTCTime, rhs: UTCTime) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }

    private var fields: tm {
        var seconds = time_t(secondsSinceEpoch)
        var result = tm()
        gmtime_r(&seconds, &result)
        return result
    }

    /// `20150830T123600Z`, the SigV4 `x-amz-date` form.
    public var basicISO8601: String {
        let t = fields
        return Self.digits(Int(t.tm_year) + 1900, 4) + Self.digits(Int(t.tm_mon) + 1, 2) + Self.digits(Int(t.tm_mday), 2)
            + "T" + Self.digits(Int(t.tm_hour), 2) + Self.digits(Int(t.tm_min), 2) + Self.digits(Int(t.tm_sec), 2) + "Z"
    }

    /// `2015-08-30T12:36:00Z`, for records people read.
    public var extendedISO8601: String {
        let t = fields
        return calendarDate + "T" + Self.digits(Int(t.tm_hour), 2) + ":" + Self.digits(Int(t.tm_min), 2) + ":"
            + Self.digits(Int(t.tm_sec), 2) + "Z"
    }

    /// `20150830`, the SigV4 credential-scope date.
    public var dateStamp: String {
        String(basicISO8601.prefix(8))
    }

    /// `2015-08-30`, the date partition of archive keys.
    public var calendarDate: String {
        let t = fields
        return Self.digits(Int(t.tm_year) + 1900, 4) + "-" + Self.digits(Int(t.tm_mon) + 1, 2) + "-" + Self.digits(Int(t.tm_mday), 2)
    }

    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
