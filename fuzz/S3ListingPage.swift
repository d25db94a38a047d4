@testable import WALArchive

/// A ListObjectsV2 page. Two uses of the same bytes:
/// - as the server's answer, any bytes: a page or a typed error, never a trap, read in memory
///   in proportion to its size; a truncated
///   page's resume point (used when a server sends no continuation token) is not before the
///   page's last key or last common prefix, so a listing moves forward;
/// - as keys (separated by NUL) that a correct server escapes into a page: reading the page
///   gives back exactly those keys, in order.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzS3ListingPage(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    requireLinearReading(bytes)
    if let page = try? ListObjectsPage(xml: bytes), let resume = S3Store.resumePoint(after: page) {
        for entry in [page.keys.last, page.commonPrefixes.last].compactMap({ $0 }) {
            require(!Array(resume.utf8).lexicographicallyPrecedes(Array(entry.utf8)),
                    "resume point \(resume) comes before \(entry)")
        }
    }

    // At most a page of keys (S3 sends up to 1000), so one input stays quick to run.
    let keys = bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(1000).map { String(decoding: $0, as: UTF8.self) }
    let prefixes = keys.filter { $0.hasSuffix("/") }
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    xml += "<Name>bucket</Name><Prefix></Prefix><KeyCount>\(keys.count)</KeyCount><IsTruncated>false</IsTruncated>"
    for key in keys {
        xml += "<Contents><Key>\(escaped(key))</Key><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
    }
    for prefix in prefixes {
        xml += "<CommonPrefixes><Prefix>\(escaped(prefix))</Prefix></CommonPrefixes>"
    }
    xml += "</ListBucketResult>"
    do {
        let page = try ListObjectsPage(xml: Array(xml.utf8))
        require(page.keys == keys, "keys \(keys) came back as \(page.keys)")
        require(page.commonPrefixes == prefixes, "prefixes \(prefixes) came back as \(page.commonPrefixes)")
        require(!page.isTruncated && page.nextContinuationToken == nil, "a complete page read as truncated")
    } catch {
        fatalError("a well-formed page of \(keys) was refused: \(error.message)")
    }
    return 0
}

/// XML escaping as S3 does it for keys (the five predefined entities; a carriage return as a
/// character reference, since XML readers turn a raw one into a line feed).
private func escaped(_ text: String) -> String {
    var output = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": output += "&amp;"
        case "<": output += "&lt;"
        case ">": output += "&gt;"
        case "\"": output += "&quot;"
        case "'": output += "&apos;"
        case "\r": output += "&#13;"
        default: output.unicodeScalars.append(scalar)
        }
    }
    return output
}
