@testable import WALArchive

/// A backup history file's content (`<segment>.<offset>.backup`). Input: the file name line,
/// then the content.
/// Properties: accepted or refused, the same through the file reader as over the bytes; what
/// passes starts with START WAL LOCATION naming its own segment and has a STOP WAL LOCATION
/// line; the operators' parser (BackupHistory) accepts only what the validator accepts, and
/// then gives the name's own segment as the start.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackupHistory(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let nameLine = String(decoding: input.field(upTo: 0x0A), as: UTF8.self)
    let name = (try? WALFileName(parsing: nameLine)).flatMap { name -> WALFileName? in
        if case .backupHistory = name.kind { return name } else { return nil }
    } ?? (try! WALFileName(parsing: "000000010000000000000002.00000028.backup"))
    let text = input.rest()
    let fromBytes = Result { () throws(WALValidationError) in try WALFileValidator.validateBackupHistory(text, as: name) }
    let file = MemoryFile(text)
    let fromFile = Result { () throws(WALValidationError) in
        _ = try WALFileValidator.validate(descriptor: file.descriptor, path: "fuzz", as: name)
    }
    switch (fromBytes, fromFile) {
    case (.success, .success):
        let firstLine = String(decoding: text.prefix { $0 != 0x0A }, as: UTF8.self)
        require(firstLine.hasPrefix("START WAL LOCATION: ") && firstLine.hasSuffix("(file \(name.segmentPart))"),
                "first line \(firstLine) passed for \(name)")
        require(text.split(separator: 0x0A).contains { $0.starts(with: Array("STOP WAL LOCATION: ".utf8)) },
                "no STOP WAL LOCATION line, passed")
        if let history = try? BackupHistory(parsing: text, name: name) {
            require(history.startSegment.description == name.segmentPart, "start segment \(history.startSegment) for \(name)")
        }
    case (.failure(let error), .failure(let fileError)):
        require(error == fileError, "readers disagree: \(error) vs \(fileError)")
        require((try? BackupHistory(parsing: text, name: name)) == nil, "BackupHistory accepted what the validator refused")
        requireOneReportLine(error.message)
    default:
        fatalError("one reader accepted the backup history, the other refused it")
    }
    return 0
}
