/// This machine's clock as the S3 server sees it.
///
/// S3 refuses a request signed more than 15 minutes away from its own time
/// (`RequestTimeTooSkewed`; Ceph RGW too). As the AWS SDKs do, a refusal that shows skew teaches
/// the offset from the server's time (the `Date` header, or AWS's `<ServerTime>`), and the request
/// is signed again, once: an archiver on a machine whose clock drifted keeps archiving instead of
/// failing every segment until someone fixes NTP. Signing with the server's time is safe: the
/// signature's date only proves freshness to the server, and nothing stored depends on it (the
/// date partition of a segment comes from the file's modification time).
struct ServerClock {
    /// Below this difference a 401/403 is about credentials, not time; the AWS SDKs use the
    /// same four minutes, well inside S3's fifteen.
    static let skewThresholdSeconds: Int64 = 240
    /// Codes that say the request time itself was refused.
    static let skewCodes: Set<String> = ["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]

    private(set) var offsetSeconds: Int64 = 0
    private let localNow: () -> UTCTime

    init(localNow: @escaping () -> UTCTime = UTCTime.now) {
        self.localNow = localNow
    }

    /// The time to sign with: the local clock corrected by what the server taught.
    func now() -> UTCTime {
        UTCTime(secondsSinceEpoch: localNow().secondsSinceEpoch + offsetSeconds)
    }

    /// Learns the offset from the answer to a request signed at `signedAt`; true when the request
    /// should be signed again with the corrected time.
    mutating func learn(from response: CurlClient.Response, signedAt: UTCTime) -> Bool {
        let status = response.head.status
        guard status == 400 || status == 401 || status == 403 else { return false }
        let body = S3ErrorBody(xml: response.body)
        let namesSkew = Self.skewCodes.contains(body.code)
        guard namesSkew || status != 400 else { return false }
        guard let serverTime = response.head.headers["date"].flatMap(Self.time(httpDate:))
                ?? Self.time(iso8601: body.serverTime) else { return false }
        let difference = serverTime.secondsSinceEpoch - signedAt.secondsSinceEpoch
        guard difference != 0, namesSkew || abs(difference) >= Self.skewThresholdSeconds else { return false }
        offsetSeconds += difference
        return true
    }

    // MARK: - Reading the server's time

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// RFC 9110's preferred form, which servers send in `Date`: `Sat, 28 Nov 2026 06:45:52 GMT`.
    static func time(httpDate text: String) -> UTCTime? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]),
              let month = months.firstIndex(of: String(fields[2])), let year = Int(fields[3]) else { return nil }
        return time(year: year, month: month + 1, day: day, clock: fields[4])
    }

    /// `2026-11-28T06:45:52Z` (AWS's `<ServerTime>`), fractions of a second ignored.
    static func time(iso8601 text: String) -> UTCTime? {
        guard text.hasSuffix("Z"), let separator = text.firstIndex(of: "T") else { return nil }
        let date = text[..<separator].split(separator: "-")
        var clock = text[text.index(after: separator)...].dropLast()
        if let fraction = clock.firstIndex(of: ".") { clock = clock[..<fraction] }
        guard date.count == 3, let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2]) else { return nil }
        return time(year: year, month: month, day: day, clock: clock)
    }

    /// `HH:MM:SS` on a civil date, as seconds since the epoch (days from Howard Hinnant's
    /// `days_from_civil`, exact for the proleptic Gregorian calendar).
    private static func time(year: Int, month: Int, day: Int, clock: Substring) -> UTCTime? {
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, let hour = parts[0], let minute = parts[1], let second = parts[2],
              (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
              (0...60).contains(second), year >= 1970 else { return nil }
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = Int64(era * 146_097 + dayOfEra - 719_468)
        return UTCTime(secondsSinceEpoch: days * 86_400 + Int64(hour * 3_600 + minute * 60 + second))
    }
}
