/// Finds the key of a WAL segment (or `.partial`, or backup history file) knowing only its
/// name, without listing the archive.
///
/// Keys are `<prefix>/<date>/<name><suffix>`, and per timeline a segment's date never
/// decreases with its number (dates come from modification times, which follow WAL order).
/// - with a hint (where the previous segment of the timeline was found): one GET of the
///   likely key;
/// - otherwise the name's claim (`NameClaim`, written by `wal-push` before the data): one HEAD
///   gives the key, whatever its date;
/// - names without a claim (written by older versions, or by other tools): the date partitions
///   are searched, from the hinted date on or, cold, with one LIST of the partitions and a
///   binary search, each probe one or two small LISTs; a name found under several suffixes
///   with different content is an error, not a choice.
/// The legacy flat layout `<prefix>/<name>` is searched too when enabled.
public final class SegmentLocator {
    public struct Location: Sendable, Equatable {
        public var key: String
        /// Nil for the legacy flat layout.
        public var date: String?
        public var suffix: String
    }

    enum Probe: Equatable {
        case found([Location])
        /// The segment, if archived, is on an earlier date.
        case earlier
        /// The segment, if archived, is on a later date.
        case later
    }

    /// Keys a probe reads per LIST request; it reads on while the keys still start with the
    /// segment's name (backup history files, `.partial`, other compressions), so however many
    /// there are, none can crowd the segment out.
    static let probePage = 64
    static let allDates = 100_000
    static let allVariants = 10_000

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

    /// Streams the file `name` into `sink`; nil when the archive definitely does not have it.
    public func fetch(_ name: String, into sink: any ObjectSink) throws(LocatorError) -> (Location, ObjectInfo)? {
        let timeline = String(name.prefix(8))
        let hint = hints?.hint(timeline: timeline).flatMap {
            $0.segment <= String(name.prefix(24)) && ($0.date != nil || searchesLegacyFlatLayout) ? $0 : nil
        }
        if let hint {
            let guess = Location(key: hint.date.map { layout.segmentKey(name: name, date: $0, suffix: hint.suffix) }
                                     ?? layout.legacyKey(name: name, suffix: hint.suffix),
                                 date: hint.date, suffix: hint.suffix)
            if let info = try get(guess.key, into: sink, rememberingAs: name, at: guess) {
                return (guess, info)
            }
        }
        if let claim = try claim(of: name) {
            let location = Location(key: claim.dataKey(layout), date: claim.date, suffix: claim.suffix)
            // A claim without its data: the push that wrote it died before the data (and was not
            // retried); then only a copy written without a claim could be there: search.
            if let info = try get(location.key, into: sink, rememberingAs: name, at: location, ifSHA256Is: claim.sha256Hex) {
                guard info.metadata[PayloadMetadata.sha256Name] == claim.sha256Hex else {
                    throw .differentCopies(name: name, keys: [NameClaim.key(name: name, layout: layout), location.key])
                }
                return (location, info)
            }
        }
        guard let location = try locate(name, hint: hint) else { return nil }
        guard let info = try get(location.key, into: sink, rememberingAs: name, at: location) else {
            throw .storage(.invalidResponse(detail: "\(location.key) was listed, then could not be found"))
        }
        return (location, info)
    }

    /// The name's claim, or nil when it has none. One HEAD.
    func claim(of name: String) throws(LocatorError) -> NameClaim? {
        let object: ObjectInfo?
        do {
            object = try store.head(key: NameClaim.key(name: name, layout: layout))
        } catch {
            throw .storage(error)
        }
        guard let object else { return nil }
        do {
            return try NameClaim(object: object, name: name)
        } catch {
            throw .unusableClaim(error)
        }
    }

    /// The location of a name without a claim, searched by date; nil when it is definitely not
    /// archived.
    public func locate(_ name: String, hint: LocatorHints.Hint? = nil) throws(LocatorError) -> Location? {
        let variants: [Location]?
        do {
            variants = try search(name, hint: hint)
        } catch {
            throw .storage(error)
        }
        guard let variants else { return nil }
        return try choose(variants, name: name)
    }

    private func search(_ name: String, hint: LocatorHints.Hint?) throws(StorageError) -> [Location]? {
        let timeline = String(name.prefix(8))
        var triedFlat = false
        if let hint, hint.date == nil, searchesLegacyFlatLayout {
            triedFlat = true
            if let found = try probeFlat(name) { return found }
        }
        if let hintedDate = hint?.date {
            var dates: [String]
            switch try probe(date: hintedDate, name: name, timeline: timeline, holdsEarlierSegment: true) {
            case .found(let variants):
                return variants
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
                case .found(let variants): return variants
                case .earlier: dates = []
                case .later: dates.removeFirst()
                }
            }
            return try search(dates, name: name, timeline: timeline, triedFlat: triedFlat)
        }
        return try searchAllDates(name, timeline: timeline, triedFlat: triedFlat)
    }

    /// The cold search: all date partitions.
    private func searchAllDates(_ name: String, timeline: String, triedFlat: Bool) throws(StorageError) -> [Location]? {
        try search(try datePartitions(after: nil), name: name, timeline: timeline, triedFlat: triedFlat)
    }

    /// Bisects `dates`, then tries the flat layout if enabled and not tried yet.
    private func search(_ dates: [String], name: String, timeline: String, triedFlat: Bool) throws(StorageError) -> [Location]? {
        if let found = try binarySearch(dates, name: name, timeline: timeline) { return found }
        if searchesLegacyFlatLayout && !triedFlat { return try probeFlat(name) }
        return nil
    }

    /// Finds `name` among `dates` (ascending) using the date-order invariant.
    func binarySearch(_ dates: [String], name: String, timeline: String) throws(StorageError) -> [Location]? {
        var low = 0
        var high = dates.count
        while low < high {
            let middle = (low + high) / 2
            switch try probe(date: dates[middle], name: name, timeline: timeline) {
            case .found(let variants): return variants
            case .earlier: high = middle
            case .later: low = middle + 1
            }
        }
        return nil
    }

    /// Lists the date's keys from `name` on, a page at a time while they still belong to the
    /// same segment (its `.partial`, backup history files, other compressions), collecting the
    /// name's own variants; the first key of any other segment decides the direction if it is
    /// of the same timeline (a later segment there: this one is not on a later date). If that
    /// does not decide, asks whether the date holds any key of the segment's timeline (all of
    /// which would then sort before it). `holdsEarlierSegment`: the date is known (from the
    /// hint) to hold an earlier segment of the timeline, which saves the second LIST.
    func probe(date: String, name: String, timeline: String, holdsEarlierSegment: Bool = false) throws(StorageError) -> Probe {
        let partition = layout.datePartition(date)
        let segmentKeys = partition + String(name.prefix(24))
        var startAfter = partition + Self.justBefore(name)
        var variants: [Location] = []
        var following: String?
        var sawAny = false
        while following == nil {
            let page = try store.list(prefix: partition, delimiter: nil, startAfter: startAfter, limit: Self.probePage).keys
            sawAny = sawAny || !page.isEmpty
            for key in page {
                if key.hasPrefix(segmentKeys) {
                    if let suffix = matchingSuffix(String(key.dropFirst(partition.count)), name: name) {
                        variants.append(Location(key: key, date: date, suffix: suffix))
                    }
                } else {
                    following = String(key.dropFirst(partition.count))
                    break
                }
            }
            guard page.count == Self.probePage, let last = page.last else { break }
            startAfter = last
        }
        if !variants.isEmpty { return .found(variants) }
        if let following, following.hasPrefix(timeline) { return .earlier }
        if holdsEarlierSegment { return .later }
        let sameTimeline = try store.list(prefix: partition + timeline, delimiter: nil, startAfter: nil, limit: 1)
        if !sameTimeline.keys.isEmpty { return .later }
        // Nothing of this timeline on this date: a later timeline here means ours ended before.
        return sawAny ? .earlier : .later
    }

    /// Every variant of `name` at the prefix (`aws s3 cp` wrote `<prefix>/<file name>`),
    /// however many other keys start with it.
    func probeFlat(_ name: String) throws(StorageError) -> [Location]? {
        let keys = try store.list(prefix: layout.root + name, delimiter: nil, startAfter: nil, limit: Self.allVariants).keys
        let variants = keys.compactMap { key in
            matchingSuffix(String(key.dropFirst(layout.root.count)), name: name).map { Location(key: key, date: nil, suffix: $0) }
        }
        return variants.isEmpty ? nil : variants
    }

    /// One of a name's variants on one date: the only one, or, where several suffixes exist,
    /// the preferred one provided they all hold the same file (same `wal-sha256`; one HEAD
    /// each). Different or unknown content: an error naming them.
    func choose(_ variants: [Location], name: String) throws(LocatorError) -> Location {
        let ordered = variants.sorted {
            (suffixes.firstIndex(of: $0.suffix) ?? suffixes.count) < (suffixes.firstIndex(of: $1.suffix) ?? suffixes.count)
        }
        guard ordered.count > 1 else { return ordered[0] }
        var checksums: Set<String> = []
        for variant in ordered {
            let info: ObjectInfo?
            do {
                info = try store.head(key: variant.key)
            } catch {
                throw .storage(error)
            }
            checksums.insert(info?.metadata[PayloadMetadata.sha256Name] ?? "none: " + variant.key)
        }
        guard checksums.count == 1 else { throw .differentCopies(name: name, keys: ordered.map(\.key)) }
        return ordered[0]
    }

    /// Date partitions in ascending order, all of them or those after `date`.
    func datePartitions(after date: String?) throws(StorageError) -> [String] {
        // Flat-layout keys (`<prefix>/0000…`) sort before the dates; skip them unread.
        let startAfter = date.map { layout.datePartition($0) + "~" } ?? layout.root + "0~"
        let listing = try store.list(prefix: layout.root, delimiter: "/", startAfter: startAfter, limit: Self.allDates)
        return listing.commonPrefixes.compactMap { layout.date(ofPartition: $0) }
    }

    /// GET `key` into `sink`; nil when there is no such object. The hint for `name` is written
    /// as soon as the object is known to exist (its first body bytes), not after its download:
    /// a prefetch worker started at that moment (`PrefetchSession.startWorkerEarly`) then
    /// finds the next segments with a GET each instead of a HEAD of their claims first. A hint
    /// is only where to look first, so one for an object that then fails its verification
    /// costs at most a request, never a wrong answer.
    private func get(_ key: String, into sink: any ObjectSink, rememberingAs name: String,
                     at location: Location, ifSHA256Is claimed: String? = nil) throws(LocatorError) -> ObjectInfo? {
        do {
            // A hint is followed without asking the claim again: data that disagrees with the
            // name's claim (refused below) must never become one.
            return try store.get(key: key, into: FoundSignal(forwardingTo: sink) { object in
                guard claimed.map({ object.metadata[PayloadMetadata.sha256Name] == $0 }) ?? true else { return }
                self.remember(name, at: location)
            })
        } catch {
            if case .notFound = error { return nil }
            throw .storage(error)
        }
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
