import Glibc
@testable import WALArchive

/// An archived object as wal-fetch receives it (damaged, foreign or hostile): its metadata
/// (`wal-compression`, `wal-sha256`, `wal-size`), the name asked for, and its body, delivered
/// in chunks of a chosen size into a VerifyingFileSink. Input: four lines (compression,
/// sha256, size, name; an empty line means absent), a chunk size byte, then the body.
/// Properties:
/// - metadata is refused exactly when PayloadMetadata refuses it;
/// - the temporary file never grows past the size the metadata allows;
/// - a verified file has that size and SHA-256, holds bytes hashing to what the sink reports,
///   and is the same however the body is cut into chunks (one chunk decodes to the same);
/// - committed, the file is at the destination; refused, the directory is left empty.
/// Bodies that could decode to more than 1 MiB are skipped (a bound for the run's speed; the
/// sink's own bound is what the second property checks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzObjectBody(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    var metadata: [String: String] = [:]
    for name in [PayloadMetadata.compressionName, PayloadMetadata.sha256Name, PayloadMetadata.sizeName] {
        let field = input.field(upTo: 0x0A)
        if !field.isEmpty { metadata[name] = String(decoding: field, as: UTF8.self) }
    }
    let expectedName = try? WALFileName(parsing: String(decoding: input.field(upTo: 0x0A), as: UTF8.self))
    let chunkSize = 1 + Int(input.byte()) * 64
    let body = input.rest()
    let object = ObjectInfo(key: "prefix/2024-01-01/object", size: Int64(body.count), metadata: metadata)

    let parsed = Result { () throws(PayloadError) in try PayloadMetadata(object: object) }
    guard case .success(let payload) = parsed else {
        let sink = makeSink(expecting: expectedName)
        require((try? sink.begin(object)) == nil, "the sink began with metadata PayloadMetadata refuses")
        sink.discard()
        requireEmptyDirectory()
        return 0
    }
    let limit = payload.originalSize ?? (payload.algorithm == .none ? Int64(body.count) : VerifyingFileSink.sizeLimitWithoutMetadata)
    guard limit <= 1 << 20 else { return 0 }

    let sink = makeSink(expecting: expectedName)
    var outcome: Result<VerifyingFileSink.Verified, PayloadError>
    do throws(StorageError) {
        try sink.begin(object)
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + chunkSize)
            try body[offset..<end].withUnsafeBytes { chunk in
                Result { () throws(StorageError) in try sink.write(chunk) }
            }.get()
            require(fileSize(sink.temporaryPath) <= limit, "the temporary file grew past \(limit) bytes")
            offset = end
        }
        outcome = Result { () throws(PayloadError) in try sink.finish() }
    } catch {
        outcome = .failure(.corruptObject(key: object.key, detail: error.message))
    }
    require(fileSize(sink.temporaryPath) <= limit, "the temporary file grew past \(limit) bytes")

    switch outcome {
    case .success(let verified):
        let content = readAll(sink.temporaryPath)
        require(SHA256Hasher.hash(content).hexString == verified.sha256Hex, "the file does not hash to what was verified")
        require(payload.originalSize.map { Int64(content.count) == $0 } ?? true, "size differs from wal-size")
        require(payload.originalSHA256Hex.map { $0 == verified.sha256Hex } ?? true, "SHA-256 differs from wal-sha256")
        require(decodedInOneChunk(body, payload.algorithm) == content, "chunked and whole decoding differ")
        let destination = directory + "/restored"
        do { try sink.commit(to: destination) } catch { fatalError("commit failed: \(error.message)") }
        require(readAll(destination) == content, "the committed file differs from the verified one")
        unlink(destination)
    case .failure:
        sink.discard()
    }
    requireEmptyDirectory()
    return 0
}

private let directory: String = {
    let path = "/dev/shm/wal-archive-fuzz-\(getpid())"
    mkdir(path, 0o700)
    atexit { rmdir("/dev/shm/wal-archive-fuzz-\(getpid())") }
    return path
}()

private func makeSink(expecting name: WALFileName?) -> VerifyingFileSink {
    do { return try VerifyingFileSink(directory: directory, expecting: name) } catch {
        fatalError("cannot create a sink in \(directory): \(error.message)")
    }
}

private func requireEmptyDirectory() {
    let entries = (try? FileOperations.directoryEntries(directory)) ?? []
    require(entries.isEmpty, "left in the directory: \(entries)")
}

private func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : 0
}

private func readAll(_ path: String) -> [UInt8] {
    (try? FileOperations.readWholeFile(path, limit: 2 << 20)) ?? []
}

private func decodedInOneChunk(_ body: [UInt8], _ algorithm: CompressionAlgorithm) -> [UInt8]? {
    guard let decompressor = try? StreamDecompressor(algorithm: algorithm) else { return nil }
    var output: [UInt8] = []
    let collect = { (bytes: UnsafeRawBufferPointer) throws(PayloadError) in output.append(contentsOf: bytes) }
    do {
        try body.withUnsafeBytes { whole in
            Result { () throws(CodecFailure<PayloadError>) in try decompressor.push(whole, output: collect) }
        }.get()
        try decompressor.finish(output: collect)
    } catch {
        return nil
    }
    return output
}
