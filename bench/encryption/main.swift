// The cost of client-side encryption per WAL segment, through our own code paths: zstd
// compression alone vs compression then AES-256-GCM (ChunkEncryptor), and decryption
// (ChunkDecryptor) then decompression vs decompression alone, in the 256 KiB pieces the tools
// use. Prints a markdown table. Usage: encryption-bench [--rounds N] SEGMENT...
// (bench/encryption/run makes real WAL and also times the tools).
import Glibc
import WALArchive

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func fail(_ message: String) -> Never {
    let line = Array("encryption-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func readFile(_ path: String) -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { fail("cannot open \(path)") }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { fail("cannot read \(path)") }
        if count == 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

/// `input` in 256 KiB pieces, as PreparedUpload reads a file.
func pieces(_ input: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) {
    input.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + 256 * 1024, all.count)
            body(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
        }
    }
}

let key = EncryptionKey(bytes: (0..<32).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) })!
let keyring = EncryptionKeyring(writeKey: key, olderKeys: [])

/// Compresses (zstd, default level), optionally encrypting the output; returns the body.
func push(_ segment: [UInt8], encrypt: Bool) -> [UInt8] {
    var body: [UInt8] = []
    body.reserveCapacity(segment.count / 2)
    guard let compressor = try? StreamCompressor(algorithm: .zstd, level: CompressionAlgorithm.zstd.defaultLevel) else {
        fail("zstd")
    }
    let encryptor = encrypt ? try? ChunkEncryptor(key: key) : nil
    let collect: (UnsafeRawBufferPointer) -> Void = { body += $0 }
    let output = { (bytes: UnsafeRawBufferPointer) throws(CipherFailure<Never>) in
        if let encryptor { try encryptor.push(bytes, output: collect) } else { collect(bytes) }
    }
    do {
        pieces(segment) { piece in try? compressor.push(piece, output: output) }
        try compressor.finish(output: output)
        try encryptor?.finish(output: collect)
    } catch {
        fail("compressing failed")
    }
    return body
}

/// Optionally decrypts, then decompresses `body`; returns the plaintext's length.
func fetch(_ body: [UInt8], decrypt: Bool) -> Int {
    var size = 0
    guard let decompressor = try? StreamDecompressor(algorithm: .zstd) else { fail("zstd") }
    let count: (UnsafeRawBufferPointer) -> Void = { size += $0.count }
    let decompress = { (bytes: UnsafeRawBufferPointer) throws(CodecFailure<Never>) in try decompressor.push(bytes, output: count) }
    let decryptor = decrypt ? ChunkDecryptor(keyring: keyring) : nil
    var failed = false
    pieces(body) { piece in
        do {
            if let decryptor { try decryptor.push(piece, output: decompress) } else { try decompress(piece) }
        } catch {
            failed = true
        }
    }
    do {
        try decryptor?.finish(output: decompress)
        try decompressor.finish(output: count)
    } catch {
        failed = true
    }
    if failed { fail("decoding failed") }
    return size
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func milliseconds(_ seconds: Double) -> String {
    let value = (seconds * 10_000).rounded() / 10
    return "\(value)"
}

var arguments = Array(CommandLine.arguments.dropFirst())
var rounds = 5
if arguments.first == "--rounds", arguments.count > 1, let value = Int(arguments[1]) {
    rounds = value
    arguments.removeFirst(2)
}
guard !arguments.isEmpty else { fail("usage: encryption-bench [--rounds N] SEGMENT...") }

var times: [String: [Double]] = [:]
var original = 0, compressed = 0, encrypted = 0
for path in arguments {
    let segment = readFile(path)
    let plainBody = push(segment, encrypt: false)
    let encryptedBody = push(segment, encrypt: true)
    guard fetch(encryptedBody, decrypt: true) == segment.count else { fail("\(path): the round trip lost bytes") }
    original += segment.count
    compressed += plainBody.count
    encrypted += encryptedBody.count
    let scale = Double(16 << 20) / Double(segment.count)
    for _ in 0..<rounds {
        var start = now()
        _ = push(segment, encrypt: false)
        times["push plain", default: []].append((now() - start) * scale)
        start = now()
        _ = push(segment, encrypt: true)
        times["push encrypted", default: []].append((now() - start) * scale)
        start = now()
        _ = fetch(plainBody, decrypt: false)
        times["fetch plain", default: []].append((now() - start) * scale)
        start = now()
        _ = fetch(encryptedBody, decrypt: true)
        times["fetch encrypted", default: []].append((now() - start) * scale)
        start = now()
        let encryptor = try! ChunkEncryptor(key: key)
        pieces(plainBody) { piece in try? encryptor.push(piece) { (_: UnsafeRawBufferPointer) in } }
        try? encryptor.finish { (_: UnsafeRawBufferPointer) in }
        times["encrypt only", default: []].append((now() - start) * scale)
        start = now()
        let decryptor = ChunkDecryptor(keyring: keyring)
        pieces(encryptedBody) { piece in try? decryptor.push(piece) { (_: UnsafeRawBufferPointer) in } }
        try? decryptor.finish { (_: UnsafeRawBufferPointer) in }
        times["decrypt only", default: []].append((now() - start) * scale)
    }
}

let pushPlain = median(times["push plain"]!), pushEncrypted = median(times["push encrypted"]!)
let fetchPlain = median(times["fetch plain"]!), fetchEncrypted = median(times["fetch encrypted"]!)
print("\(arguments.count) segment(s), \(original / arguments.count / 1024) KiB each, zstd level \(CompressionAlgorithm.zstd.defaultLevel): "
      + "compressed to \(compressed * 1000 / max(original, 1) / 10).\(compressed * 1000 / max(original, 1) % 10) %, "
      + "encrypted body +\(encrypted - compressed) bytes in all; \(rounds) rounds, medians, scaled to one 16 MiB segment")
print("")
print("| step (per 16 MiB segment) | without encryption (ms) | with encryption (ms) | ratio |")
print("|---|---|---|---|")
print("| wal-push body: compress (+ encrypt) | \(milliseconds(pushPlain)) | \(milliseconds(pushEncrypted)) | "
      + "\((pushEncrypted / pushPlain * 100).rounded() / 100) |")
print("| wal-fetch body: (decrypt +) decompress | \(milliseconds(fetchPlain)) | \(milliseconds(fetchEncrypted)) | "
      + "\((fetchEncrypted / fetchPlain * 100).rounded() / 100) |")
print("| AES-256-GCM alone: encrypt the compressed body | | \(milliseconds(median(times["encrypt only"]!))) | |")
print("| AES-256-GCM alone: decrypt the compressed body | | \(milliseconds(median(times["decrypt only"]!))) | |")
