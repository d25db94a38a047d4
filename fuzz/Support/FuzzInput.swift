import Glibc
@testable import WALArchive

/// The fuzzer's bytes, consumed from the front: small structured choices first (a kind, a
/// size, a flag), the rest as the document under test. Running out of bytes yields zeros, so
/// every input, however short, is a valid run.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ data: UnsafePointer<UInt8>, _ count: Int) {
        bytes = ArraySlice(UnsafeBufferPointer(start: data, count: count))
    }

    mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    mutating func uint32() -> UInt32 {
        (0..<4).reduce(UInt32(0)) { value, _ in value << 8 | UInt32(byte()) }
    }

    mutating func bool() -> Bool {
        byte() & 1 == 1
    }

    mutating func rest() -> [UInt8] {
        defer { bytes = [] }
        return Array(bytes)
    }

    /// The remaining bytes up to (not including) the next `separator`, which is consumed.
    mutating func field(upTo separator: UInt8) -> [UInt8] {
        let end = bytes.firstIndex(of: separator) ?? bytes.endIndex
        defer { bytes = end < bytes.endIndex ? bytes[(end + 1)...] : [] }
        return Array(bytes[..<end])
    }
}

/// A property the target checks; a violation aborts so the fuzzer keeps the input.
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() { fatalError("property violated: \(what())") }
}

/// Text a tool could print: no control character (C0, DEL, C1) and no Unicode line or
/// paragraph separator, which a log reader or terminal could act on.
func isPrintable(_ message: String) -> Bool {
    message.unicodeScalars.allSatisfy {
        $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) && $0.value != 0x2028 && $0.value != 0x2029
    }
}



/// An in-memory file holding `bytes`, extended (sparse) to `size` when that is larger: what
/// the validators read through a descriptor, without touching a disk.
final class MemoryFile {
    let descriptor: Int32

    init(_ bytes: [UInt8], size: Int64? = nil) {
        // Created and unlinked at once: only the descriptor (and /proc/self/fd/N) names it.
        let path = "/dev/shm/wal-archive-fuzz-file-\(getpid())"
        descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        require(descriptor >= 0, "cannot create \(path)")
        unlink(path)
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        require(written == bytes.count, "pwrite to the memory file failed")
        if let size, size > Int64(bytes.count) {
            require(ftruncate(descriptor, off_t(size)) == 0, "ftruncate of the memory file failed")
        }
    }

    deinit { close(descriptor) }
}

/// What reading an XML answer keeps is in proportion to the answer: a hostile body of n bytes
/// must not cost the client more than a small multiple of n in memory.
func requireLinearReading(_ xml: [UInt8]) {
    guard let leaves = try? XMLLeaves.parse(xml) else { return }
    let kept = leaves.reduce(0) { $0 + $1.path.utf8.count + $1.text.utf8.count }
    // A path of at most longestPathBytes per leaf of at least four bytes, plus the leaf's text.
    let bound = (XMLLeaves.longestPathBytes / 4 + 1) * xml.count + XMLLeaves.longestPathBytes
    require(kept <= bound, "\(xml.count) bytes of XML kept \(kept) bytes of leaves")
}

/// The lines a tool would print for `message` (the report line, and the logfmt line of
/// `log = info`): each one line, nothing a terminal or log reader takes for a control.
func requireOneReportLine(_ message: String) {
    let line = CommandHelp.reportLine(program: "wal-fetch", message)
    require(line.hasSuffix("\n") && isPrintable(String(line.dropLast())), "report line \(Array(line.utf8)) is not one printable line")
    let logValue = CallLog.value(message)
    require(isPrintable(logValue), "log value \(Array(logValue.utf8)) is not printable")
}
