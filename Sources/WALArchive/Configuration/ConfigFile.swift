/// A config file of `key = value` lines; `#` starts a comment line, blank lines are ignored,
/// and a value may be wrapped in single or double quotes.
public struct ConfigFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public static let defaultPath = "/etc/wal-archive/wal-archive.conf"
    /// `--config none` or `WAL_ARCHIVE_CONFIG=none`: read no config file, not even the default
    /// one, so that nothing installed on the machine changes what a call does.
    public static let noFile = "none"

    public var path: String
    public var entries: [Entry]

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    public static func load(path: String) throws(ConfigurationError) -> ConfigFile {
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(path)
        } catch {
            throw .unreadableConfigFile(path: path, reason: error.message)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> ConfigFile {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        // Split on the scalar: "\r\n" is a single Character, so a Character split would read a
        // file with CRLF line ends as one line; the "\r" left at a line's end is trimmed.
        for (index, rawLine) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = trimmed(Substring(rawLine))
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw .configFileSyntax(path: path, line: lineNumber, detail: "expected `key = value`")
            }
            let key = trimmed(line[..<equals]).lowercased()
            var value = trimmed(line[line.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard !key.isEmpty else {
                throw .configFileSyntax(path: path, line: lineNumber, detail: "missing key before `=`")
            }
            if let earlier = seen[key] {
                throw .configFileSyntax(path: path, line: lineNumber, detail: "`\(key)` is already set on line \(earlier)")
            }
            seen[key] = lineNumber
            entries.append(Entry(key: key, value: value, line: lineNumber))
        }
        return ConfigFile(path: path, entries: entries)
    }

    public func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    private static func trimmed(_ text: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = text.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = text.lastIndex(where: { !isSpace($0) })!
        return String(text[start...end])
    }
}
