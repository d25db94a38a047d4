import Glibc

/// A moment in UTC, with the few renderings the archive needs (SigV4 stamps, key dates).
public struct UTCTime: Sendable, Equatable, Comparable {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// Parses `2026-11-28T07:40:47Z`, with optional fractional seconds (dropped) and a `Z` or
    /// `±hh:mm` offset: how S3 listings write times, and STS, container and EC2 metadata
    /// endpoints expirations; nil for anything else.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start, index < bytes.count else { return nil }
        }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1, 2), let minutes = number(index + 4, 2) else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        self.init(secondsSinceEpoch: Int64(timegm(&fields)) - Int64(offsetSeconds))
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
