import CZstd

/// zstd frames through libzstd's streaming API, with the frame checksum on (it costs little
/// and lets the decompressor notice damage on its own).
final class ZstdEngine: CodecEngine {
    private let compressionContext: OpaquePointer?
    private let decompressionContext: OpaquePointer?
    private let buffer: UnsafeMutableRawBufferPointer
    /// Decompression: a frame ended and everything it holds was flushed.
    private var frameComplete = false
    private var started = false

    init(compressingAt level: Int32) throws(CompressionError) {
        buffer = .allocate(byteCount: outputBufferSize, alignment: 16)
        decompressionContext = nil
        compressionContext = ZSTD_createCCtx()
        guard let context = compressionContext else { throw .initializationFailed(.zstd) }
        guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) == 0,
              ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)) == 0 else {
            throw .initializationFailed(.zstd)
        }
    }

    init(decompressing: Void) throws(CompressionError) {
        buffer = .allocate(byteCount: outputBufferSize, alignment: 16)
        compressionContext = nil
        decompressionContext = ZSTD_createDCtx()
        guard decompressionContext != nil else { throw .initializationFailed(.zstd) }
    }

    deinit {
        if let compressionContext { ZSTD_freeCCtx(compressionContext) }
        if let decompressionContext { ZSTD_freeDCtx(decompressionContext) }
        buffer.deallocate()
    }

    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                 output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        if let compressionContext {
            try compress(compressionContext, &source, finishing: finishing, output: output)
        } else if let decompressionContext {
            try decompress(decompressionContext, &source, finishing: finishing, output: output)
        }
    }

    private func compress<Failure: Error>(_ context: OpaquePointer, _ source: inout ZSTD_inBuffer, finishing: Bool,
                                          output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        let directive = finishing ? ZSTD_e_end : ZSTD_e_continue
        while true {
            var target = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &target, &source, directive)
            if ZSTD_isError(remaining) != 0 {
                throw .codec(.compressionFailed(.zstd, detail: String(cString: ZSTD_getErrorName(remaining))))
            }
            if target.pos > 0 {
                do { try output(UnsafeRawBufferPointer(rebasing: buffer[..<target.pos])) } catch { throw .output(error) }
            }
            if finishing ? remaining == 0 : source.pos == source.size { return }
        }
    }

    private func decompress<Failure: Error>(_ context: OpaquePointer, _ source: inout ZSTD_inBuffer, finishing: Bool,
                                            output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        if frameComplete && source.pos < source.size { throw .codec(.trailingData(.zstd)) }
        while source.pos < source.size || (!frameComplete && started) {
            var target = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let hint = ZSTD_decompressStream(context, &target, &source)
            if ZSTD_isError(hint) != 0 {
                throw .codec(.corruptInput(.zstd, detail: String(cString: ZSTD_getErrorName(hint))))
            }
            started = true
            if target.pos > 0 {
                do { try output(UnsafeRawBufferPointer(rebasing: buffer[..<target.pos])) } catch { throw .output(error) }
            }
            if hint == 0 {
                frameComplete = true
                if source.pos < source.size { throw .codec(.trailingData(.zstd)) }
                break
            }
            // Input used up and the output buffer not filled: nothing more until more input.
            if source.pos == source.size && target.pos < target.size { break }
        }
        if finishing && !frameComplete { throw .codec(.truncatedInput(.zstd)) }
    }
}
