/// A compressed body collected in memory, in 1 MiB chunks taken one at a time from an
/// `UploadMemory` budget (chunks, not one growing array, so that growing never copies and
/// never holds twice the memory). When the budget has no chunk left, the bytes collected so
/// far are dropped and only the length and SHA-256 are kept: the caller then sends the body by
/// compressing the source again (`overflowed`).
final class CompressedMemoryBody: UploadBody {
    static let chunkSize = 1 << 20

    private let memory: UploadMemory
    private var chunks: [UnsafeMutableRawBufferPointer] = []
    private var hasher: SHA256Hasher? = SHA256Hasher()
    private(set) var length: Int64 = 0
    private(set) var overflowed = false
    private(set) var sha256Hex = ""

    init(memory: UploadMemory) {
        self.memory = memory
    }

    deinit { dropChunks() }

    /// Appends compressor output.
    func append(_ bytes: UnsafeRawBufferPointer) {
        hasher?.update(bytes)
        var offset = 0
        while offset < bytes.count && !overflowed {
            let used = Int(length % Int64(Self.chunkSize))
            if used == 0 && length / Int64(Self.chunkSize) == Int64(chunks.count) {
                guard memory.reserve(Self.chunkSize) else {
                    overflowed = true
                    dropChunks()
                    break
                }
                chunks.append(.allocate(byteCount: Self.chunkSize, alignment: 16))
            }
            let count = min(bytes.count - offset, Self.chunkSize - used)
            UnsafeMutableRawBufferPointer(rebasing: chunks[chunks.count - 1][used..<(used + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            offset += count
            length += Int64(count)
        }
        if overflowed { length += Int64(bytes.count - offset) }
    }

    /// Ends the body: its SHA-256 is fixed.
    func finish() {
        sha256Hex = hasher.take()?.finalize().hexString ?? sha256Hex
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int {
        guard !overflowed else { throw .localIO(detail: "the compressed body was not kept in memory") }
        guard offset >= 0, offset < length else { return 0 }
        let index = Int(offset / Int64(Self.chunkSize))
        let start = Int(offset % Int64(Self.chunkSize))
        let available = min(Int64(Self.chunkSize - start), length - offset)
        let count = min(buffer.count, Int(available))
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: chunks[index][start..<(start + count)]))
        return count
    }

    private func dropChunks() {
        for chunk in chunks { chunk.deallocate() }
        memory.release(chunks.count * Self.chunkSize)
        chunks.removeAll()
    }
}
