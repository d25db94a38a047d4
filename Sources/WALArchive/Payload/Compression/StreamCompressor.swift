/// Compresses with `algorithm` as a `StreamCodec`.
public final class StreamCompressor: EngineStream {
    public init(algorithm: CompressionAlgorithm, level: Int32? = nil) throws(CompressionError) {
        let level = level ?? algorithm.defaultLevel
        guard algorithm.levels.contains(level) else { throw .unsupportedLevel(algorithm, level) }
        switch algorithm {
        case .none: super.init(algorithm: algorithm, engine: PassThroughEngine())
        case .gzip: super.init(algorithm: algorithm, engine: try ZlibEngine(compressingAt: level))
        case .zstd: super.init(algorithm: algorithm, engine: try ZstdEngine(compressingAt: level))
        }
    }
}
