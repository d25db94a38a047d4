import WALArchive

/// Drives a whole buffer through a stream codec, for tests of the codecs and of what uses them.
public enum Codec {
    public static func compress(_ input: [UInt8], _ algorithm: CompressionAlgorithm, level: Int32? = nil,
                         chunkSize: Int = 65536) throws -> [UInt8] {
        try run(StreamCompressor(algorithm: algorithm, level: level), over: input, chunkSize: chunkSize)
    }

    public static func decompress(_ input: [UInt8], _ algorithm: CompressionAlgorithm, chunkSize: Int = 65536) throws -> [UInt8] {
        try run(StreamDecompressor(algorithm: algorithm), over: input, chunkSize: chunkSize)
    }

    /// Feeds `input` to `codec` in `chunkSize` pieces (at least one push, even when empty).
    public static func run(_ codec: some StreamCodec, over input: [UInt8], chunkSize: Int) throws -> [UInt8] {
        var output: [UInt8] = []
        let collect = { (bytes: UnsafeRawBufferPointer) throws(Never) in output.append(contentsOf: bytes) }
        try input.withUnsafeBytes { all in
            var offset = 0
            repeat {
                let end = min(offset + chunkSize, all.count)
                try codec.push(UnsafeRawBufferPointer(rebasing: all[offset..<end]), output: collect)
                offset = end
            } while offset < all.count
        }
        try codec.finish(output: collect)
        return output
    }

    public static func codecError(_ error: Error) -> CompressionError? {
        if let failure = error as? CodecFailure<Never>, case .codec(let codecError) = failure { return codecError }
        return error as? CompressionError
    }
}
