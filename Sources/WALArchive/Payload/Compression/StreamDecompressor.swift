/// The inverse of `StreamCompressor`. Refuses damaged input, input that ends early (at
/// `finish`) and bytes after the end of the stream (we write exactly one gzip member or
/// zstd frame, so anything after it is not ours).
public final class StreamDecompressor: EngineStream {
    public init(algorithm: CompressionAlgorithm) throws(CompressionError) {
        switch algorithm {
        case .none: super.init(algorithm: algorithm, engine: PassThroughEngine())
        case .gzip: super.init(algorithm: algorithm, engine: try ZlibEngine(decompressing: ()))
        case .zstd: super.init(algorithm: algorithm, engine: try ZstdEngine(decompressing: ()))
        }
    }
}
