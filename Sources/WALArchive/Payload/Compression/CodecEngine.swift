/// The size of the buffer each engine hands its output through.
let outputBufferSize = 128 * 1024

/// One direction of one algorithm: consumes all of `input` (and with `finishing`, ends the
/// stream), handing every produced byte to `output`.
protocol CodecEngine: AnyObject {
    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                 output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>)
}
