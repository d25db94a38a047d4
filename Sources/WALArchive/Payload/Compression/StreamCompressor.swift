/// Compresses with `algorithm` as a `StreamCodec`.
public final class StreamCompressor: StreamCodec {
    public let algorithm: CompressionAlgorithm
    private let engine: any CodecEngine

    public init(algorithm: CompressionAlgorithm, level: Int32? = nil) throws(CompressionError) {
        let level = level ?? algorithm.defaultLevel
        guard algorithm.levels.contains(level) else { throw .unsupportedLevel(algorithm, level) }
        self.algorithm = algorithm
        switch algorithm {
        case .none: engine = PassThroughEngine()
        case .gzip: engine = try ZlibEngine(compressingAt: level)
        case .zstd: engine = try ZstdEngine(compressingAt: level)
        }
    }

    public func push<Failure: Error>(_ input: UnsafeRawBufferPointer,
                                     output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        try engine.process(input, finishing: false, output: output)
    }

    public func finish<Failure: Error>(output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        try engine.process(UnsafeRawBufferPointer(start: nil, count: 0), finishing: true, output: output)
    }
}
