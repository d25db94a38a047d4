/// The text of the tools' small local records (push-ahead's `PushedRecord`, prefetch's
/// `PrefetchRecord`): one field a line, then a line with the first 16 hex digits of the SHA-256
/// of the lines before it, so that a torn, cut or edited record is refused rather than trusted.
enum RecordText {
    static func encode(_ lines: [String]) -> String {
        let body = lines.joined(separator: "\n") + "\n"
        return body + checksum(body) + "\n"
    }

    /// The `count` lines of a record whose checksum holds; nil for anything else.
    static func decode(_ text: String, count: Int) -> [String]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count == count + 2, lines[count + 1].isEmpty else { return nil }
        let body = Array(lines[0..<count])
        guard lines[count] == checksum(body.joined(separator: "\n") + "\n") else { return nil }
        return body
    }

    private static func checksum(_ body: String) -> String {
        String(SHA256Hasher.hash(Array(body.utf8)).hexString.prefix(16))
    }
}
