/// The inverse of `StreamCompressor`. Refuses damaged input, input that ends early (at
/// `finish`) and bytes after the end of the stream (we write exactly one gzip member or
/// zstd frame, so anything after it is not ours).
public final class StreamDecompressor: StreamCodec {
    public let algorithm: CompressionAlgorithm
    private let engine: any CodecEngine

    public init(algorithm: CompressionAlgorithm) throws(CompressionError) {
        self.algorithm = algorithm
        switch algorithm {
        case .none: engine = PassThroughEngine()
        case .gzip: engine = try ZlibEngine(decompressing: ())
        case .zstd: engine = try ZstdEngine(decompressing: ())
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
