/// A `StreamCodec` that drives one `CodecEngine`: the push/finish plumbing shared by
/// `StreamCompressor` and `StreamDecompressor`, which differ only in the engine they choose.
public class EngineStream: StreamCodec {
    public let algorithm: CompressionAlgorithm
    private let engine: any CodecEngine

    init(algorithm: CompressionAlgorithm, engine: any CodecEngine) {
        self.algorithm = algorithm
        self.engine = engine
    }

    public final func push<Failure: Error>(_ input: UnsafeRawBufferPointer,
                                           output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        try engine.process(input, finishing: false, output: output)
    }

    public final func finish<Failure: Error>(output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        try engine.process(UnsafeRawBufferPointer(start: nil, count: 0), finishing: true, output: output)
    }
}
