@testable import WALArchive

/// File names as PostgreSQL hands them over (%f) or as they arrive in restore_command: any bytes.
/// Properties: a name either parses or is refused with a printable message; a parsed name
/// keeps its spelling, a segment's canonical spelling is the same, and the order of two
/// parsed names is the order of their spellings (PostgreSQL's own order).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWALFileName(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let first = String(decoding: input.field(upTo: 0x0A), as: UTF8.self)
    let second = String(decoding: input.rest(), as: UTF8.self)
    let parsed = [first, second].compactMap { (text: String) -> WALFileName? in
        do throws(WALFileNameError) {
            let name = try WALFileName(parsing: text)
            check(name, spelled: text)
            return name
        } catch {
            require(isPrintable(error.message), "unprintable message for \(Array(text.utf8))")
            return nil
        }
    }
    if parsed.count == 2 {
        let (a, b) = (parsed[0], parsed[1])
        require((a < b) == Array(a.description.utf8).lexicographicallyPrecedes(Array(b.description.utf8)),
                "order of \(a) and \(b) differs from the order of their spellings")
    }
    return 0
}

private func check(_ name: WALFileName, spelled text: String) {
    require(name.description == text, "spelling changed: \(text) -> \(name)")
    require(!text.contains("/"), "a name with a slash parsed: \(text)")
    let part = name.segmentPart
    require(text.hasPrefix(part), "segment part \(part) is not a prefix of \(text)")
    for bytes in [1 << 20, 16 << 20, 1 << 30] {
        guard let size = WALSegmentSize(bytes: bytes) else { continue }
        guard name.kind == .segment, let number = name.segmentNumber(segmentSize: size) else { continue }
        let canonical = WALFileName(timeline: name.timeline, segmentNumber: number, segmentSize: size)
        require(canonical == name, "canonical spelling of \(text) with \(size) segments is \(String(describing: canonical))")
        if let next = name.nextSegment(segmentSize: size) {
            require(name < next, "\(next) does not follow \(name)")
        }
    }
}
