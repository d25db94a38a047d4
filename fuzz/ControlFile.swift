@testable import WALArchive

/// `global/pg_control` as `wal-archive init -D` reads it (a damaged, torn, foreign or
/// byte-swapped file). Properties: read or refused, never a trap; what is read has a plausible
/// pg_control_version, a power-of-two WAL block size from 1 to 64 KiB and a valid segment size;
/// every refusal reports as one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlFile(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    do {
        let control = try ControlFile(bytes: bytes)
        require(ControlFile.plausibleVersions.contains(control.controlVersion), "version \(control.controlVersion) accepted")
        let block = control.walBlockSize
        require(block >= 1024 && block <= 65536 && block & (block - 1) == 0, "WAL block size \(block) accepted")
        require(WALSegmentSize(bytes: control.walSegmentSize.bytes) != nil, "segment size accepted")
    } catch {
        requireOneReportLine(error.message)
    }
    return 0
}
