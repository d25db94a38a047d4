@testable import WALArchive

/// The archive identity object `<prefix>/wal-archive.json` as wal-push, wal-fetch and
/// wal-archive read it from the store (any bytes a damaged or foreign object holds).
/// Properties: the strict JSON reader accepts or refuses, never traps; a document it accepts
/// encodes to text it reads back as the same value (when that text fits the size limit); an
/// identity that parses encodes to an identity that parses to the same; every refusal reports
/// as one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchiveIdentity(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    switch Result(catching: { () throws(JSONError) in try JSONValue(parsing: bytes) }) {
    case .success(let value):
        let text = Array(value.encoded().utf8)
        if text.count <= JSONValue.maximumSize {
            require((try? JSONValue(parsing: text)) == value, "\(value) does not read back from its encoding")
        }
    case .failure(let error):
        requireOneReportLine(error.message)
    }
    switch Result(catching: { () throws(ArchiveIdentityFormatError) in try ArchiveIdentity(parsing: bytes) }) {
    case .success(let identity):
        require((try? ArchiveIdentity(parsing: identity.encoded)) == identity, "\(identity) does not read back")
        require(identity.systemIdentifier != 0 && WALPageMagic.magic(ofMajorVersion: identity.postgresMajorVersion) != nil,
                "implausible identity \(identity) accepted")
    case .failure(let error):
        requireOneReportLine(ArchiveIdentityError.unusable(location: "s3://bucket/prefix/wal-archive.json", error).message)
    }
    return 0
}
