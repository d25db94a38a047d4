@testable import WALArchive

/// An S3 error body (any bytes a server, proxy or attacker in the path returns with an error
/// status). Properties: reading never fails and keeps memory in proportion to the body;
/// whatever the fields hold, the message a tool prints from them stays one printable line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzS3ErrorBody(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    requireLinearReading(bytes)
    let body = S3ErrorBody(xml: bytes)
    let errors: [StorageError] = [
        .rejected(status: 400, code: body.code, message: body.message, requestID: body.requestID),
        .accessDenied(detail: "fuzz: HTTP 403 \(body.code): \(body.message) (request id \(body.requestID))"),
        .unavailable(detail: "fuzz: HTTP 503 \(body.code)"),
    ]
    for error in errors {
        requireOneReportLine(error.message)
    }
    return 0
}
