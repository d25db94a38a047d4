@testable import WALArchive

/// A timeline history file's content (archived by wal-push, restored by wal-fetch from a
/// possibly damaged object). Input: the file name line, then the content.
/// Properties: accepted or refused with a printable message, the same through the file
/// reader as over the bytes; what passes has at least one entry line, each naming a
/// timeline below the file's own.
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
    case (.failure(let error), .failure(let fileError)):
        require(error == fileError, "readers disagree: \(error) vs \(fileError)")
        requireOneReportLine(error.message)
    default:
        fatalError("one reader accepted the history, the other refused it")
    }
    return 0
}
