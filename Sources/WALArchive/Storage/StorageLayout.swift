/// Where each kind of archived file lives under the destination's prefix:
/// - WAL segments, `.partial` and `.backup` files: `<prefix>/<YYYY-MM-DD>/<name><compression suffix>`,
///   the date being the UTC date of the file's modification time;
/// - timeline history files: `<prefix>/timelines/<name>`, never compressed;
/// - the legacy flat layout that `aws s3 cp ... %f` scripts wrote: `<prefix>/<name>[suffix]`.
public struct StorageLayout: Sendable, Equatable {
    public static let timelinesFolder = "timelines"

    /// Without leading or trailing `/`; empty for the bucket's (or directory's) root.
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// `<prefix>/`, or empty when there is no prefix.
    public var root: String { prefix.isEmpty ? "" : prefix + "/" }

    public func segmentKey(name: String, date: String, suffix: String) -> String {
        datePartition(date) + name + suffix
    }

    public func historyKey(name: String) -> String {
        root + Self.timelinesFolder + "/" + name
    }

    public func legacyKey(name: String, suffix: String) -> String {
        root + name + suffix
    }

    /// `<prefix>/<date>/`, the LIST prefix of one date partition.
    public func datePartition(_ date: String) -> String {
        root + date + "/"
    }

    /// The date of a common prefix `<prefix>/YYYY-MM-DD/`, or nil for anything else.
    public func date(ofPartition commonPrefix: String) -> String? {
        guard commonPrefix.hasPrefix(root), commonPrefix.hasSuffix("/") else { return nil }
        let date = commonPrefix.dropFirst(root.count).dropLast()
        return Self.isCalendarDate(date) ? String(date) : nil
    }

    /// `YYYY-MM-DD` with digits where digits belong.
    public static func isCalendarDate(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 7 {
                if byte != UInt8(ascii: "-") { return false }
            } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                return false
            }
        }
        return true
    }
}
