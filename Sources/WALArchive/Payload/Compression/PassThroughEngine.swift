/// `none`: the bytes as they are.
final class PassThroughEngine: CodecEngine {
    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                          output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        guard !input.isEmpty else { return }
        do { try output(input) } catch { throw .output(error) }
    }
}
