/// A timeline history file (`<timeline>.history`), parsed: which timelines came before this one
/// and at which LSN each was left (timeline.c, readTimeLineHistory).
public struct TimelineHistory: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var parent: UInt32
        /// The LSN at which `parent` ended and the next timeline began (the fork point).
        public var switchLSN: UInt64
        public var reason: String

        public init(parent: UInt32, switchLSN: UInt64, reason: String) {
            self.parent = parent
            self.switchLSN = switchLSN
            self.reason = reason
        }
    }

    public var timeline: UInt32
    /// Oldest first; the last one is this timeline's parent.
    public var entries: [Entry]

    /// A timeline without a history file: 1, or one whose file is missing.
    public init(rootTimeline timeline: UInt32) {
        self.timeline = timeline
        entries = []
    }

    public init(parsing text: [UInt8], name: WALFileName) throws(WALValidationError) {
        try WALFileValidator.validateTimelineHistory(text, as: name)
        var entries: [Entry] = []
        // The validator accepted every line: blank or comment lines, or `tli<TAB>lsn[<TAB>reason]`.
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            let fields = trimmed.split(separator: UInt8(ascii: "\t"), maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, let parent = UInt32(String(decoding: fields[0], as: UTF8.self)),
                  let switchLSN = WALFileValidator.parseLSN(fields[1]) else { continue }
            var reason = fields.count > 2 ? String(decoding: fields[2], as: UTF8.self) : ""
            while reason.last == "\r" { reason.removeLast() }
            entries.append(Entry(parent: parent, switchLSN: switchLSN, reason: reason))
        }
        timeline = name.timeline
        self.entries = entries
    }

    /// Where this timeline's ancestor `timeline` ended, or nil if it is not an ancestor.
    public func switchLSN(leaving timeline: UInt32) -> UInt64? {
        entries.first { $0.parent == timeline }?.switchLSN
    }

    /// The LSN this timeline began at (its parent's switch point); 0 for a root timeline.
    public var beginLSN: UInt64 { entries.last?.switchLSN ?? 0 }
}
