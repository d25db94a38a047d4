@testable import WALArchive

/// A segment's first bytes and its size, as wal-push reads them before an upload and wal-fetch
/// after a download (a damaged or hostile object). Input: a file name line, a size choice,
/// then the file's first bytes.
/// Properties: decoding is stable (decode, encode, decode gives the same header); the
/// validator over the bytes and over a file holding them agree; what passes has a known
/// magic, the size its header declares, the page address its name says and no later
/// timeline than its name; every refusal has a printable message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWALPageHeader(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    guard let name = try? WALFileName(parsing: String(decoding: input.field(upTo: 0x0A), as: UTF8.self)),
          name.holdsWAL else { return 0 }
    let sizeChoice = input.byte()
    let explicitSize = Int64(input.uint32())
    let bytes = input.rest()
    let decoded = bytes.withUnsafeBytes { WALLongPageHeader($0) }
    if let decoded {
        let again = decoded.encoded.withUnsafeBytes { WALLongPageHeader($0) }
        require(again == decoded, "decode/encode/decode changed \(decoded)")
    } else {
        require(bytes.count < WALLongPageHeader.byteCount, "\(bytes.count) bytes did not decode")
    }
    // Mostly the size the header declares, so that the checks after the size are reached.
    let declared = decoded.map { Int64($0.segmentSize) } ?? 0
    // A file shorter than a header is only its bytes; a longer one reads zeros past them.
    let fileSize = bytes.count < WALLongPageHeader.byteCount
        ? Int64(bytes.count) : max(Int64(bytes.count), sizeChoice & 1 == 0 ? declared : explicitSize)

    let fromBytes = Result { () throws(WALValidationError) in
        try WALFileValidator.validateSegment(firstBytes: bytes, fileSize: fileSize, as: name)
    }
    let file = MemoryFile(bytes, size: fileSize)
    let fromFile = Result { () throws(WALValidationError) in
        try WALFileValidator.validate(descriptor: file.descriptor, path: "fuzz", as: name)
    }
    switch (fromBytes, fromFile) {
    case (.success(let header), .success(let validated)):
        require(validated.header == header && validated.size == fileSize, "validators disagree on \(name)")
        require(WALPageMagic.majorVersion(of: header.magic) != nil, "unknown magic passed")
        require(fileSize == Int64(header.segmentSize), "size \(fileSize) passed with header size \(header.segmentSize)")
        let segmentSize = WALSegmentSize(bytes: header.segmentSize)
        require(segmentSize != nil && header.pageAddress == name.startLSN(segmentSize: segmentSize!),
                "page address \(header.pageAddress) passed for \(name)")
        require(header.timeline >= 1 && header.timeline <= name.timeline, "timeline \(header.timeline) passed for \(name)")
    case (.failure(let error), .failure(let fileError)):
        require(error == fileError, "validators disagree on \(name): \(error) vs \(fileError)")
        requireOneReportLine(error.message)
    default:
        fatalError("one validator accepted \(name), the other refused it")
    }
    return 0
}
