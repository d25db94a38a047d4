import Glibc

/// A moment in UTC, with the few renderings the archive needs (SigV4 stamps, key dates).
public struct UTCTime: Sendable, Equatable, Comparable {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// `2026-11-28T07:00:00Z` or with fractional seconds (`…:00.000Z`), as S3 listings give
    /// times; nil for anything else.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              bytes.count == 20 || bytes[19] == UInt8(ascii: ".") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        // Days from 1970-01-01 to the civil date (the proleptic Gregorian calendar; H. Hinnant's days_from_civil).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        self.init(secondsSinceEpoch: days * 86_400 + hour * 3_600 + minute * 60 + second)
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
