@testable import WALArchive

/// A timeline history file's content (archived by wal-push, restored by wal-fetch from a
/// possibly damaged object). Input: the file name line, then the content.
/// Properties: accepted or refused, the same through the file reader as over the bytes, and
/// by the operators' parser (TimelineHistory) as by the validator; what passes has at least
/// one entry line, each naming a timeline below the file's own, and the parser keeps every
/// entry, parents increasing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTimelineHistory(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let nameLine = String(decoding: input.field(upTo: 0x0A), as: UTF8.self)
    let name = (try? WALFileName(parsing: nameLine)).flatMap { $0.kind == .timelineHistory ? $0 : nil }
        ?? (try! WALFileName(parsing: "00000005.history"))
    let text = input.rest()
    let fromBytes = Result { () throws(WALValidationError) in try WALFileValidator.validateTimelineHistory(text, as: name) }
    let file = MemoryFile(text)
    let fromFile = Result { () throws(WALValidationError) in
        _ = try WALFileValidator.validate(descriptor: file.descriptor, path: "fuzz", as: name)
    }
    switch (fromBytes, fromFile) {
    case (.success, .success):
        let entries = text.split(separator: 0x0A).filter { line in
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            return !trimmed.isEmpty && trimmed.first != UInt8(ascii: "#")
        }
        require(!entries.isEmpty, "a history without entries passed")
        for entry in entries {
            let digits = entry.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }.prefix { $0 >= 0x30 && $0 <= 0x39 }
            let timeline = UInt32(String(decoding: digits, as: UTF8.self))
            require(timeline.map { $0 < name.timeline } ?? false, "entry \(Array(entry)) passed in \(name)")
        }
        do {
            let history = try TimelineHistory(parsing: text, name: name)
            require(history.entries.count == entries.count, "the parser kept \(history.entries.count) of \(entries.count) entries")
            require(zip(history.entries, history.entries.dropFirst()).allSatisfy { $0.parent < $1.parent }, "parents out of order")
            require(history.entries.last.map { $0.parent < name.timeline && history.beginLSN == $0.switchLSN } ?? false,
                    "the last parent or the begin LSN of \(name)")
        } catch {
            fatalError("the validator accepted what TimelineHistory refused: \(error.message)")
        }
    case (.failure(let error), .failure(let fileError)):
        require(error == fileError, "readers disagree: \(error) vs \(fileError)")
        require((try? TimelineHistory(parsing: text, name: name)) == nil, "TimelineHistory accepted what the validator refused")
        requireOneReportLine(error.message)
    default:
        fatalError("one reader accepted the history, the other refused it")
    }
    return 0
}
