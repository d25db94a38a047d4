/// Finds the key of a WAL segment knowing only its name, without listing the archive.
///
/// Keys are `<prefix>/<date>/<name><suffix>`, and per timeline a segment's date never
/// decreases with its number (dates come from modification times, which follow WAL order).
/// So the date partitions can be searched:
/// - with a hint (where the previous segment of the timeline was found): one GET of the
///   likely key; failing that a probe of the hinted date, then the next date, then a binary
///   search of the later dates;
/// - cold: one LIST of the date partitions, then a binary search over them, each probe one or
///   two small LISTs;
/// - a definite "not found" after a hint costs a handful of requests, a cold one the search.
/// The legacy flat layout `<prefix>/<name>` is searched too when enabled.
public final class SegmentLocator {
    public struct Location: Sendable, Equatable {
        public var key: String
        /// Nil for the legacy flat layout.
        public var date: String?
        public var suffix: String
    }

    enum Probe: Equatable {
        case found(Location)
        /// The segment, if archived, is on an earlier date.
        case earlier
        /// The segment, if archived, is on a later date.
        case later
    }

    /// How many keys a probe lists: the segment's possible variants come first.
    static let probeSize = 4
    static let allDates = 100_000

    public let store: any ObjectStore
    public let layout: StorageLayout
    /// Compression suffixes objects may carry, the preferred (configured) one first.
    public let suffixes: [String]
    public let searchesLegacyFlatLayout: Bool
    public let hints: LocatorHints?

    public init(store: any ObjectStore, layout: StorageLayout, suffixes: [String],
                searchesLegacyFlatLayout: Bool, hints: LocatorHints?) {
        self.store = store
        self.layout = layout
        self.suffixes = suffixes
        self.searchesLegacyFlatLayout = searchesLegacyFlatLayout
        self.hints = hints
    }

    /// Streams the segment `name` into `sink`; nil when the archive definitely does not have it.
    public func fetch(_ name: String, into sink: any ObjectSink) throws(StorageError) -> (Location, ObjectInfo)? {
        let timeline = String(name.prefix(8))
        let hint = hints?.hint(timeline: timeline).flatMap {
            $0.segment <= String(name.prefix(24)) && ($0.date != nil || searchesLegacyFlatLayout) ? $0 : nil
        }
        if let hint {
            let guess = Location(key: hint.date.map { layout.segmentKey(name: name, date: $0, suffix: hint.suffix) }
                                     ?? layout.legacyKey(name: name, suffix: hint.suffix),
                                 date: hint.date, suffix: hint.suffix)
            do {
                let info = try store.get(key: guess.key, into: sink)
                remember(name, at: guess)
                return (guess, info)
            } catch {
                guard case .notFound = error else { throw error }
            }
        }
        guard let location = try locate(name, hint: hint) else { return nil }
        let info = try store.get(key: location.key, into: sink)
        remember(name, at: location)
        return (location, info)
    }

    /// The segment's location, or nil when it is definitely not archived.
    public func locate(_ name: String, hint: LocatorHints.Hint? = nil) throws(StorageError) -> Location? {
        let timeline = String(name.prefix(8))
        var triedFlat = false
        if let hint, hint.date == nil, searchesLegacyFlatLayout {
            triedFlat = true
            if let found = try probeFlat(name) { return found }
        }
        if let hintedDate = hint?.date {
            var dates: [String]
            switch try probe(date: hintedDate, name: name, timeline: timeline, holdsEarlierSegment: true) {
            case .found(let location):
                return location
            case .earlier:
                // A later segment but not this one on the hinted date: a gap, or a clock that
                // stepped back over midnight put this segment a date earlier. Never conclude
                // "not found" from the hint alone: search every date.
                return try searchAllDates(name, timeline: timeline, triedFlat: triedFlat)
            case .later:
                dates = try datePartitions(after: hintedDate)
            }
            // Sequential recovery crosses into the next date: look there before bisecting.
            if let next = dates.first {
                switch try probe(date: next, name: name, timeline: timeline) {
                case .found(let location): return location
                case .earlier: dates = []
                case .later: dates.removeFirst()
                }
            }
            return try search(dates, name: name, timeline: timeline, triedFlat: triedFlat)
        }
        return try searchAllDates(name, timeline: timeline, triedFlat: triedFlat)
    }

    /// The cold search: all date partitions.
    private func searchAllDates(_ name: String, timeline: String, triedFlat: Bool) throws(StorageError) -> Location? {
        try search(try datePartitions(after: nil), name: name, timeline: timeline, triedFlat: triedFlat)
    }

    /// Bisects `dates`, then tries the flat layout if enabled and not tried yet.
    private func search(_ dates: [String], name: String, timeline: String, triedFlat: Bool) throws(StorageError) -> Location? {
        if let found = try binarySearch(dates, name: name, timeline: timeline) { return found }
        if searchesLegacyFlatLayout && !triedFlat { return try probeFlat(name) }
        return nil
    }

    /// Finds `name` among `dates` (ascending) using the date-order invariant.
    func binarySearch(_ dates: [String], name: String, timeline: String) throws(StorageError) -> Location? {
        var low = 0
        var high = dates.count
        while low < high {
            let middle = (low + high) / 2
            switch try probe(date: dates[middle], name: name, timeline: timeline) {
            case .found(let location): return location
            case .earlier: high = middle
            case .later: low = middle + 1
            }
        }
        return nil
    }

    /// Lists the first keys at or after `name` on `date`; if that does not decide, asks whether
    /// the date holds any key of the segment's timeline (all of which would then sort before it).
    /// `holdsEarlierSegment`: the date is known (from the hint) to hold an earlier segment of
    /// the timeline, which saves the second LIST.
    func probe(date: String, name: String, timeline: String, holdsEarlierSegment: Bool = false) throws(StorageError) -> Probe {
        let partition = layout.datePartition(date)
        let listing = try store.list(prefix: partition, delimiter: nil, startAfter: partition + Self.justBefore(name),
                                     limit: Self.probeSize)
        let names = listing.keys.map { String($0.dropFirst(partition.count)) }
        for (key, candidate) in zip(listing.keys, names) {
            if let suffix = matchingSuffix(candidate, name: name) {
                return .found(Location(key: key, date: date, suffix: suffix))
            }
        }
        if let first = names.first, first.hasPrefix(timeline) { return .earlier }
        if holdsEarlierSegment { return .later }
        let sameTimeline = try store.list(prefix: partition + timeline, delimiter: nil, startAfter: nil, limit: 1)
        if !sameTimeline.keys.isEmpty { return .later }
        // Nothing of this timeline on this date: a later timeline here means ours ended before.
        return names.isEmpty ? .later : .earlier
    }

    func probeFlat(_ name: String) throws(StorageError) -> Location? {
        let listing = try store.list(prefix: layout.root + name, delimiter: nil, startAfter: nil, limit: Self.probeSize)
        for key in listing.keys {
            if let suffix = matchingSuffix(String(key.dropFirst(layout.root.count)), name: name) {
                return Location(key: key, date: nil, suffix: suffix)
            }
        }
        return nil
    }

    /// Date partitions in ascending order, all of them or those after `date`.
    func datePartitions(after date: String?) throws(StorageError) -> [String] {
        // Flat-layout keys (`<prefix>/0000…`) sort before the dates; skip them unread.
        let startAfter = date.map { layout.datePartition($0) + "~" } ?? layout.root + "0~"
        let listing = try store.list(prefix: layout.root, delimiter: "/", startAfter: startAfter, limit: Self.allDates)
        return listing.commonPrefixes.compactMap { layout.date(ofPartition: $0) }
    }

    private func matchingSuffix(_ candidate: String, name: String) -> String? {
        guard candidate.hasPrefix(name) else { return nil }
        let rest = String(candidate.dropFirst(name.count))
        return suffixes.contains(rest) ? rest : nil
    }

    private func remember(_ name: String, at location: Location) {
        guard let hints, name.count >= 24 else { return }
        hints.record(.init(segment: String(name.prefix(24)), date: location.date, suffix: location.suffix))
    }

    /// A start-after that sorts just before `name` and after every shorter or smaller name:
    /// `name` with its last character replaced by its predecessor, followed by `~`.
    static func justBefore(_ name: String) -> String {
        var bytes = Array(name.utf8)
        guard let last = bytes.last, last > 0 else { return name }
        bytes[bytes.count - 1] = last - 1
        return String(decoding: bytes, as: UTF8.self) + "~"
    }
}
