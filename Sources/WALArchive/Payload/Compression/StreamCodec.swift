/// A codec step failed, or the consumer of its output did.
public enum CodecFailure<OutputFailure: Error>: Error {
    case codec(CompressionError)
    case output(OutputFailure)
}

/// Bytes in, bytes out through `output`, in bounded memory (one output buffer of
/// `outputBufferSize` plus the library's own state), whatever the total size.
/// `finish` must be called once after the last `push`; the object is then spent.
public protocol StreamCodec: AnyObject {
    func push<Failure: Error>(_ input: UnsafeRawBufferPointer,
                              output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CodecFailure<Failure>)
    func finish<Failure: Error>(output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CodecFailure<Failure>)
}
