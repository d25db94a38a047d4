import CZlib

/// gzip (RFC 1952) through zlib's deflate/inflate with the gzip wrapper.
final class ZlibEngine: CodecEngine {
    private let stream: UnsafeMutablePointer<z_stream>
    private let compressing: Bool
    private let buffer: UnsafeMutableRawBufferPointer
    private var ended = false

    init(compressingAt level: Int32) throws(CompressionError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        compressing = true
        buffer = .allocate(byteCount: outputBufferSize, alignment: 16)
        guard walarchive_deflate_init_gzip(stream, level) == Z_OK else {
            release(initialised: false)
            throw .initializationFailed(.gzip)
        }
    }

    init(decompressing: Void) throws(CompressionError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        compressing = false
        buffer = .allocate(byteCount: outputBufferSize, alignment: 16)
        guard walarchive_inflate_init_gzip(stream) == Z_OK else {
            release(initialised: false)
            throw .initializationFailed(.gzip)
        }
    }

    deinit { release(initialised: true) }

    private var released = false

    private func release(initialised: Bool) {
        guard !released else { return }
        released = true
        if initialised {
            if compressing { deflateEnd(stream) } else { inflateEnd(stream) }
        }
        stream.deinitialize(count: 1)
        stream.deallocate()
        buffer.deallocate()
    }

    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                 output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        if ended {
            if compressing { throw .codec(.compressionFailed(.gzip, detail: "stream already finished")) }
            if !input.isEmpty { throw .codec(.trailingData(.gzip)) }
            return
        }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(buffer.count)
            let status = compressing ? deflate(stream, finishing ? Z_FINISH : Z_NO_FLUSH) : inflate(stream, Z_NO_FLUSH)
            let produced = buffer.count - Int(stream.pointee.avail_out)
            if produced > 0 {
                do { try output(UnsafeRawBufferPointer(rebasing: buffer[..<produced])) } catch { throw .output(error) }
            }
            switch status {
            case Z_STREAM_END:
                ended = true
                if !compressing && stream.pointee.avail_in > 0 { throw .codec(.trailingData(.gzip)) }
                return
            case Z_OK:
                break
            case Z_BUF_ERROR:
                // No progress possible: all input consumed and all output flushed.
                if finishing && !compressing { throw .codec(.truncatedInput(.gzip)) }
                if stream.pointee.avail_in == 0 { return }
                throw .codec(compressing ? .compressionFailed(.gzip, detail: "no progress")
                                         : .corruptInput(.gzip, detail: "no progress"))
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw .codec(compressing ? .compressionFailed(.gzip, detail: detail) : .corruptInput(.gzip, detail: detail))
            }
            // Output buffer full: call again; otherwise the input is used up.
            if stream.pointee.avail_out == 0 { continue }
            if stream.pointee.avail_in == 0 {
                if finishing && !compressing { throw .codec(.truncatedInput(.gzip)) }
                if !finishing { return }
            }
        }
    }
}
