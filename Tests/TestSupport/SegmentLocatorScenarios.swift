import Foundation
import XCTest
import WALArchive

/// A synthetic archive: segments of one or two timelines spread over many dates, some dates
/// without any segment, as a real archive looks after quiet days.
public struct SyntheticArchive {
    public var keys: [String: String] = [:]   // segment name → key
    public var dates: Set<String> = []
    public var timeline1: [String] = []
    public var timeline2: [String] = []

    public static let suffixes = ["", ".zst", ".gz"]

    /// `days` dates; timeline 1 runs over the first `switchDay` days, timeline 2 (branching at
    /// the segment where timeline 1 stood halfway) after that, unless `overlapping`, in which
    /// case timeline 1 keeps going on the same days as timeline 2.
    public static func build(store: any ObjectStore, layout: StorageLayout, days: Int, switchDay: Int,
                      overlapping: Bool = false) throws -> SyntheticArchive {
        var archive = SyntheticArchive()
        var generator = SeededGenerator(seed: 42)
        var segment1 = 1
        var segment2 = 0
        for day in 0..<days {
            if generator.next() % 7 == 0 { continue }  // a quiet day: no partition at all
            let perDay = Int(generator.next() % 3) + 1
            if day < switchDay || overlapping {
                for _ in 0..<perDay {
                    try archive.add(name: segmentName(timeline: 1, number: segment1), day: day, store: store, layout: layout)
                    archive.timeline1.append(segmentName(timeline: 1, number: segment1))
                    segment1 += 1
                }
            }
            if day >= switchDay {
                if segment2 == 0 { segment2 = max(1, archive.timeline1.count / 2) }
                for _ in 0..<perDay {
                    try archive.add(name: segmentName(timeline: 2, number: segment2), day: day, store: store, layout: layout)
                    archive.timeline2.append(segmentName(timeline: 2, number: segment2))
                    segment2 += 1
                }
            }
        }
        return archive
    }

    /// The compression setting changes every 40 days, so all suffixes occur.
    mutating func add(name: String, day: Int, store: any ObjectStore, layout: StorageLayout) throws {
        let date = calendarDate(dayOffset: day)
        let suffix = Self.suffixes[(day / 40) % Self.suffixes.count]
        let key = layout.segmentKey(name: name, date: date, suffix: suffix)
        try putBytes(store, key: key, Array(name.utf8))
        keys[name] = key
        dates.insert(date)
    }

    /// The cold-search bound: the date listing plus two LISTs per bisection step.
    public var coldBound: Int { 1 + 2 * Int(ceil(log2(Double(dates.count + 1)))) }
}

/// The locator's behaviour against any store; run below on a directory and on local S3.
public final class SegmentLocatorScenarios {
    public let test: XCTestCase
    public let store: CountingObjectStore
    public let storeIdentity: StoreIdentity
    public let layout: StorageLayout

    public init(test: XCTestCase, destination: StoreDestination, prefix: String = "cluster/wal") throws {
        self.test = test
        store = CountingObjectStore(try destination.makeStore())
        storeIdentity = StoreIdentity(destination: destination, prefix: prefix)
        layout = StorageLayout(prefix: prefix)
    }

    public func locator(hintDirectory: String?, legacy: Bool = false) -> SegmentLocator {
        SegmentLocator(store: store, layout: layout, suffixes: SyntheticArchive.suffixes, searchesLegacyFlatLayout: legacy,
                       hints: hintDirectory.map { LocatorHints(directory: $0, storeIdentity: storeIdentity) })
    }

    public func coldSearchFindsEverySegmentWithinTheBound(days: Int) throws {
        let archive = try SyntheticArchive.build(store: store, layout: layout, days: days, switchDay: days * 2 / 3)
        let locator = locator(hintDirectory: nil)
        var worst = 0
        for name in archive.timeline1 + archive.timeline2 {
            store.resetCounts()
            let found = try locator.locate(name)
            XCTAssertEqual(found?.key, archive.keys[name], name)
            worst = max(worst, store.requests)
            XCTAssertLessThanOrEqual(store.requests, archive.coldBound, name)
        }
        print("cold locate over \(archive.dates.count) date partitions: at most \(worst) requests (bound \(archive.coldBound))")
    }

    public func sequentialRecoveryCostsOneRequestPerSegment(days: Int) throws {
        let archive = try SyntheticArchive.build(store: store, layout: layout, days: days, switchDay: days)
        let hints = try makeTemporaryDirectory(test, "hints")
        let locator = locator(hintDirectory: hints + "/.wal-archive")
        var costs: [Int] = []
        for name in archive.timeline1 {
            store.resetCounts()
            let sink = CollectingSink()
            let found = try locator.fetch(name, into: sink)
            XCTAssertEqual(found?.0.key, archive.keys[name])
            XCTAssertEqual(sink.bytes, Array(name.utf8))
            costs.append(store.requests)
        }
        let steady = costs.dropFirst().filter { $0 == 1 }.count
        // A segment on the same date as the one before costs exactly its GET; the first of a
        // new date, written without a claim (as here), costs a bounded few (GET miss, HEAD of
        // the absent claim, LIST hinted date, LIST later dates, LIST next date, GET).
        XCTAssertLessThanOrEqual(costs[0], archive.coldBound + 2)
        for index in archive.timeline1.indices.dropFirst() {
            let previous = archive.keys[archive.timeline1[index - 1]]!.split(separator: "/").dropLast().last
            let current = archive.keys[archive.timeline1[index]]!.split(separator: "/").dropLast().last
            if previous == current {
                XCTAssertEqual(costs[index], 1, archive.timeline1[index])
            } else {
                XCTAssertLessThanOrEqual(costs[index], 6, archive.timeline1[index])
            }
        }
        let total = costs.reduce(0, +)
        print("sequential fetch of \(costs.count) segments over \(archive.dates.count) dates: \(total) requests, "
              + "\(steady) at 1 request, worst \(costs.dropFirst().max() ?? 0), first (cold) \(costs[0])")

        // The end of the archive: the next segment is definitely not there.
        store.resetCounts()
        let next = segmentName(timeline: 1, number: archive.timeline1.count + 1)
        XCTAssertNil(try locator.fetch(next, into: CollectingSink()))
        XCTAssertLessThanOrEqual(store.requests, 4)
        print("not found at the end of the archive (with hint): \(store.requests) requests")
        store.resetCounts()
        XCTAssertNil(try self.locator(hintDirectory: nil).locate(next))
        XCTAssertLessThanOrEqual(store.requests, archive.coldBound)
        print("not found at the end of the archive (cold): \(store.requests) requests")
    }

    public func notFoundIsDefiniteAndNeverFalse(days: Int) throws {
        let archive = try SyntheticArchive.build(store: store, layout: layout, days: days, switchDay: days / 2)
        let missing = archive.timeline1[archive.timeline1.count / 3]
        try store.delete(key: archive.keys[missing]!)
        let locator = locator(hintDirectory: nil)
        store.resetCounts()
        XCTAssertNil(try locator.locate(missing))
        XCTAssertLessThanOrEqual(store.requests, archive.coldBound)
        // Timeline 2 does not have segments from before it branched off.
        XCTAssertNil(try locator.locate(segmentName(timeline: 2, number: 1)))
        XCTAssertNil(try locator.locate(segmentName(timeline: 3, number: 5)))
        XCTAssertNil(try locator.locate(segmentName(timeline: 1, number: 100_000)))
        for name in archive.timeline1 where name != missing {
            XCTAssertEqual(try locator.locate(name)?.key, archive.keys[name], name)
        }
    }

    public func overlappingTimelinesAreFound(days: Int) throws {
        let archive = try SyntheticArchive.build(store: store, layout: layout, days: days, switchDay: days / 3, overlapping: true)
        let hints = try makeTemporaryDirectory(test, "hints")
        let cold = locator(hintDirectory: nil)
        let sequential = locator(hintDirectory: hints)
        for name in archive.timeline1 + archive.timeline2 {
            XCTAssertEqual(try cold.locate(name)?.key, archive.keys[name], name)
            XCTAssertEqual(try sequential.fetch(name, into: CollectingSink())?.0.key, archive.keys[name], name)
        }
    }

    public func legacyFlatLayoutIsSearchedWhenEnabled() throws {
        let legacyName = segmentName(timeline: 1, number: 1)
        try putBytes(store, key: layout.legacyKey(name: legacyName, suffix: ""), [1])
        try putBytes(store, key: layout.legacyKey(name: segmentName(timeline: 1, number: 2), suffix: ".gz"), [2])
        try putBytes(store, key: layout.segmentKey(name: segmentName(timeline: 1, number: 3), date: "2026-02-01", suffix: ""), [3])
        XCTAssertNil(try locator(hintDirectory: nil).locate(legacyName))
        let hints = try makeTemporaryDirectory(test, "hints")
        let locator = locator(hintDirectory: hints, legacy: true)
        XCTAssertEqual(try locator.fetch(legacyName, into: CollectingSink())?.0.key, layout.legacyKey(name: legacyName, suffix: ""))
        XCTAssertEqual(try locator.fetch(segmentName(timeline: 1, number: 2), into: CollectingSink())?.0.key,
                       layout.legacyKey(name: segmentName(timeline: 1, number: 2), suffix: ".gz"))
        XCTAssertEqual(try locator.fetch(segmentName(timeline: 1, number: 3), into: CollectingSink())?.0.date, "2026-02-01")
        XCTAssertNil(try locator.fetch(segmentName(timeline: 1, number: 4), into: CollectingSink()))
    }

    /// The first fetch of a restore has no hint: the cold search must find a segment however
    /// many other keys start with its name (backup history files, a `.partial`, other
    /// compressions), on a date partition and in the flat layout.
    public func aSegmentIsFoundWhateverSharesItsKeyPrefix() throws {
        let name = segmentName(timeline: 1, number: 0x20)
        let date = "2026-04-02"
        try putBytes(store, key: layout.segmentKey(name: segmentName(timeline: 1, number: 0x1F), date: "2026-04-01", suffix: ".zst"), [1])
        try putBytes(store, key: layout.segmentKey(name: segmentName(timeline: 1, number: 0x21), date: "2026-04-03", suffix: ".zst"), [2])
        try putBytes(store, key: layout.segmentKey(name: name, date: date, suffix: ".zst"), Array(name.utf8))
        var siblings = (0..<36).map { name + "." + hex8(0x28 + $0 * 0x100) + ".backup.zst" }
        siblings += [name + ".partial.zst", name + ".partial.gz"]
        for sibling in siblings {
            try putBytes(store, key: layout.datePartition(date) + sibling, [3])
        }
        let suffixes = CompressionAlgorithm.keySuffixes(preferring: ".zst")
        let cold = SegmentLocator(store: store, layout: layout, suffixes: suffixes, searchesLegacyFlatLayout: false, hints: nil)
        XCTAssertEqual(try cold.locate(name)?.key, layout.segmentKey(name: name, date: date, suffix: ".zst"))
        let sink = CollectingSink()
        XCTAssertEqual(try cold.fetch(name, into: sink)?.0.key, layout.segmentKey(name: name, date: date, suffix: ".zst"))
        XCTAssertEqual(sink.bytes, Array(name.utf8))
        XCTAssertNotNil(try cold.locate(name + "." + hex8(0x28 + 35 * 0x100) + ".backup"))
        for neighbour in [0x1F, 0x21] {
            XCTAssertNotNil(try cold.locate(segmentName(timeline: 1, number: neighbour)), "\(neighbour)")
        }
        XCTAssertNil(try cold.locate(segmentName(timeline: 1, number: 0x22)))

        let flatName = segmentName(timeline: 1, number: 0x40)
        for sibling in (0..<12).map({ flatName + "." + hex8(0x28 + $0 * 0x100) + ".backup" }) + [flatName + ".partial"] {
            try putBytes(store, key: layout.legacyKey(name: sibling, suffix: ""), [4])
        }
        try putBytes(store, key: layout.legacyKey(name: flatName, suffix: ".gz"), [5])
        let flat = SegmentLocator(store: store, layout: layout, suffixes: suffixes, searchesLegacyFlatLayout: true, hints: nil)
        XCTAssertEqual(try flat.locate(flatName)?.key, layout.legacyKey(name: flatName, suffix: ".gz"))
    }

    /// A clock stepped back over midnight: segment 3 is dated a day before segment 2.
    public func aSegmentDatedBeforeItsPredecessorIsStillFound() throws {
        let hints = try makeTemporaryDirectory(test, "hints")
        let names = (1...4).map { segmentName(timeline: 1, number: $0) }
        let dates = ["2026-03-01", "2026-03-02", "2026-03-01", "2026-03-02"]
        for (name, date) in zip(names, dates) {
            try putBytes(store, key: layout.segmentKey(name: name, date: date, suffix: ""), Array(name.utf8))
        }
        let locator = locator(hintDirectory: hints)
        for (name, date) in zip(names, dates) {
            XCTAssertEqual(try locator.fetch(name, into: CollectingSink())?.0.date, date, name)
            XCTAssertEqual(try self.locator(hintDirectory: nil).locate(name)?.date, date, name)
        }
        // A gap (5 missing, 6 archived) is a definite "not found" after the full search.
        try putBytes(store, key: layout.segmentKey(name: segmentName(timeline: 1, number: 6), date: "2026-03-02", suffix: ""), [6])
        XCTAssertNil(try locator.fetch(segmentName(timeline: 1, number: 5), into: CollectingSink()))
    }

    public func damagedHintsAreIgnored() throws {
        let archive = try SyntheticArchive.build(store: store, layout: layout, days: 30, switchDay: 30)
        let hints = try makeTemporaryDirectory(test, "hints")
        let locator = locator(hintDirectory: hints)
        let first = archive.timeline1[0]
        _ = try locator.fetch(first, into: CollectingSink())
        let hintPath = hints + "/hint-00000001"
        let valid = try String(contentsOfFile: hintPath, encoding: .utf8)
        let lastDate = archive.dates.max()!
        for garbage in [valid.replacingOccurrences(of: archive.keys[first]!.split(separator: "/")[2].description, with: lastDate),
                        String(valid.dropLast(9)), "", "\u{0}\u{1}binary", valid.replacingOccurrences(of: "00000001 ", with: "00000002 ")] {
            try garbage.write(toFile: hintPath, atomically: false, encoding: .utf8)
            for name in archive.timeline1 {
                XCTAssertEqual(try locator.locate(name, hint: LocatorHints(directory: hints, storeIdentity: storeIdentity)
                    .hint(timeline: "00000001"))?.key, archive.keys[name], name)
            }
            try garbage.write(toFile: hintPath, atomically: false, encoding: .utf8)
            XCTAssertEqual(try locator.fetch(archive.timeline1[1], into: CollectingSink())?.0.key, archive.keys[archive.timeline1[1]])
        }
    }
}
