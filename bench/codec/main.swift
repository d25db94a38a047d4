// Measures our compression, checksum and validation code paths on real WAL segments and
// prints a markdown report. Usage: codec-bench SEGMENT... (bench/codec/run makes the WAL).
import Glibc
import WALArchive

struct Measurement {
    var algorithm: CompressionAlgorithm
    var level: Int32
    var originalBytes = 0
    var compressedBytes = 0
    var compressSeconds = 0.0
    var decompressSeconds = 0.0
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func note(_ message: String) {
    let line = Array("codec-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    note(message)
    exit(2)
}

func readFile(_ path: String) -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { fail("cannot open \(path)") }
    defer { close(descriptor) }
    var info = stat()
    fstat(descriptor, &info)
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var filled = 0
    while filled < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        guard count > 0 else { fail("cannot read \(path)") }
        filled += count
    }
    return bytes
}

/// Feeds `input` in 256 KiB pieces, as PreparedUpload reads a file.
func stream<Failure: Error>(_ input: [UInt8], through push: (UnsafeRawBufferPointer) throws(Failure) -> Void)
    rethrows {
    try input.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + 256 * 1024, all.count)
            try push(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
        }
    }
}

func compress(_ input: [UInt8], _ algorithm: CompressionAlgorithm, _ level: Int32) throws -> [UInt8] {
    let compressor = try StreamCompressor(algorithm: algorithm, level: level)
    var output: [UInt8] = []
    output.reserveCapacity(input.count / 2)
    let collect = { (bytes: UnsafeRawBufferPointer) throws(Never) in output.append(contentsOf: bytes) }
    try stream(input) { bytes in try compressor.push(bytes, output: collect) }
    try compressor.finish(output: collect)
    return output
}

/// Decompresses without keeping the output, as the restore path streams it to a file.
func decompressedSize(_ input: [UInt8], _ algorithm: CompressionAlgorithm) throws -> Int {
    let decompressor = try StreamDecompressor(algorithm: algorithm)
    var total = 0
    let count = { (bytes: UnsafeRawBufferPointer) throws(Never) in total += bytes.count }
    try stream(input) { bytes in try decompressor.push(bytes, output: count) }
    try decompressor.finish(output: count)
    return total
}

let paths = Array(CommandLine.arguments.dropFirst())
guard !paths.isEmpty else { fail("usage: codec-bench SEGMENT...") }
let segments = paths.map(readFile)
let totalBytes = segments.reduce(0) { $0 + $1.count }
let megabytes = Double(totalBytes) / 1_048_576

let candidates: [(CompressionAlgorithm, Int32)] = [
    (.gzip, 1), (.gzip, 6), (.gzip, 9), (.zstd, 1), (.zstd, 3), (.zstd, 6), (.zstd, 9), (.zstd, 19),
]
var results: [Measurement] = []
for (algorithm, level) in candidates {
    var measurement = Measurement(algorithm: algorithm, level: level)
    for segment in segments {
        let start = now()
        guard let compressed = try? compress(segment, algorithm, level) else { fail("\(algorithm) \(level) failed") }
        let middle = now()
        let restored = try? decompressedSize(compressed, algorithm)
        let end = now()
        guard restored == segment.count else { fail("\(algorithm) \(level) did not round-trip") }
        measurement.originalBytes += segment.count
        measurement.compressedBytes += compressed.count
        measurement.compressSeconds += middle - start
        measurement.decompressSeconds += end - middle
    }
    results.append(measurement)
    note("\(algorithm.rawValue) \(level) done")
}

// Per-segment costs of the integrity checks, on the files themselves (page cache warm).
let rounds = 5
var validationSeconds = 0.0
var hashSeconds = 0.0
var uploadSeconds: [CompressionAlgorithm: Double] = [:]
var restoreSeconds: [CompressionAlgorithm: Double] = [:]
let temporaryDirectory = "/tmp"
for _ in 0..<rounds {
    for path in paths {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        guard let name = try? WALFileName(parsing: base) else { fail("\(base) is not a WAL file name") }
        var start = now()
        do { _ = try WALFileValidator.validate(path: path, as: name) } catch { fail(error.message) }
        validationSeconds += now() - start

        start = now()
        for algorithm in CompressionAlgorithm.allCases {
            let upload: PreparedUpload
            do {
                upload = try PreparedUpload(sourcePath: path, algorithm: algorithm)
            } catch { fail(error.message) }
            let end = now()
            uploadSeconds[algorithm, default: 0] += end - start
            restoreSeconds[algorithm, default: 0] += restore(upload, as: name)
            start = now()
        }
    }
    for segment in segments {
        let start = now()
        var hasher = SHA256Hasher()
        stream(segment) { (bytes: UnsafeRawBufferPointer) throws(Never) in hasher.update(bytes) }
        _ = hasher.finalize()
        hashSeconds += now() - start
    }
}
/// Seconds to stream the prepared body through VerifyingFileSink (decompress, SHA-256, write
/// a temporary file, check size, checksum and header) and rename it into place.
func restore(_ upload: PreparedUpload, as name: WALFileName) -> Double {
    var body = [UInt8](repeating: 0, count: Int(upload.bodyLength))
    var filled = 0
    while filled < body.count {
        let count = body.withUnsafeMutableBytes { raw in
            (try? upload.body.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]), at: Int64(filled))) ?? 0
        }
        if count == 0 { fail("cannot read the prepared body") }
        filled += count
    }
    let object = ObjectInfo(key: name.description + upload.algorithm.keySuffix, size: upload.bodyLength,
                            metadata: upload.metadata.dictionary)
    let start = now()
    do {
        let sink = try VerifyingFileSink(directory: temporaryDirectory, expecting: name)
        try sink.begin(object)
        try stream(body) { bytes throws(StorageError) in try sink.write(bytes) }
        try sink.finish()
        try sink.commit(to: temporaryDirectory + "/codec-bench-RECOVERYXLOG")
    } catch { fail("restore of \(object.key) failed: \(error)") }
    let seconds = now() - start
    unlink(temporaryDirectory + "/codec-bench-RECOVERYXLOG")
    return seconds
}

let perSegment = { (seconds: Double) in seconds * 1000 / Double(rounds * segments.count) }
let segmentMiB = Double(segments[0].count) / 1_048_576

func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * Double(scale)).rounded())
    guard decimals > 0 else { return String(scaled) }
    let fraction = String(scaled % scale)
    return "\(scaled / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

print("Input: \(segments.count) segments of real PostgreSQL WAL, \(format(megabytes, 0)) MiB; "
    + "single thread, data in memory, 256 KiB pushes.")
print("")
print("| algorithm | level | size (% of original) | compress MiB/s | decompress MiB/s | compress ms/segment |")
print("|---|---:|---:|---:|---:|---:|")
for result in results {
    let ratio = 100 * Double(result.compressedBytes) / Double(result.originalBytes)
    print("| \(result.algorithm.rawValue) | \(result.level) | \(format(ratio, 1)) | "
        + "\(format(megabytes / result.compressSeconds, 0)) | \(format(megabytes / result.decompressSeconds, 0)) | "
        + "\(format(result.compressSeconds * 1000 / Double(segments.count), 1)) |")
}
print("")
print("Per \(format(segmentMiB, 0)) MiB segment (mean of \(rounds * segments.count), file in page cache):")
print("")
print("| step | ms/segment |")
print("|---|---:|")
print("| validation (WALFileValidator.validate: open, fstat, 40-byte pread) | \(format(perSegment(validationSeconds), 3)) |")
print("| SHA-256 of the segment in memory (SHA256Hasher) | \(format(perSegment(hashSeconds), 1)) |")
for algorithm in CompressionAlgorithm.allCases {
    let level = algorithm.defaultLevel
    print("| PreparedUpload \(algorithm.rawValue)\(algorithm == .none ? "" : " level \(level)") (read, SHA-256 of "
        + "original\(algorithm == .none ? "" : ", compress, SHA-256 of body, write temp file")) | "
        + "\(format(perSegment(uploadSeconds[algorithm] ?? 0), 1)) |")
}
for algorithm in CompressionAlgorithm.allCases {
    print("| VerifyingFileSink \(algorithm.rawValue) (\(algorithm == .none ? "" : "decompress, ")SHA-256, write temp "
        + "file, check size, checksum, header; rename) | \(format(perSegment(restoreSeconds[algorithm] ?? 0), 1)) |")
}
