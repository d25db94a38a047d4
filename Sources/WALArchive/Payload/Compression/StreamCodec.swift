import CZlib
import CZstd

/// How an archived object's body is encoded. The raw value is what `wal-compression`
/// metadata records.
public enum CompressionAlgorithm: String, Sendable, CaseIterable {
    case none
    case gzip
    case zstd

    /// The default for new objects, chosen by measurement on real PostgreSQL 15 WAL
    /// (docs/compression.md): zstd level 1 compresses WAL about 5x faster than gzip level 1
    /// and to a smaller size.
    public static let `default`: CompressionAlgorithm = .zstd

    /// Appended to the object key, so a listing shows how each object is stored.
    public var keySuffix: String {
        switch self {
        case .none: return ""
        case .gzip: return ".gz"
        case .zstd: return ".zst"
        }
    }

    /// Every suffix an archived object may carry, `preferred` (the configured one) first: the
    /// order in which a restore looks for a segment.
    public static func keySuffixes(preferring preferred: String) -> [String] {
        [preferred] + allCases.map(\.keySuffix).filter { $0 != preferred }
    }

    /// The algorithm a key's suffix names (`none` for a key without one).
    public init(keySuffixOf key: String) {
        if key.hasSuffix(".zst") {
            self = .zstd
        } else if key.hasSuffix(".gz") {
            self = .gzip
        } else {
            self = .none
        }
    }

    /// The levels offered (zstd's "ultra" levels above 19 need large decompression windows
    /// and gain nothing on WAL).
    public var levels: ClosedRange<Int32> {
        switch self {
        case .none: return 0...0
        case .gzip: return 1...9
        case .zstd: return 1...19
        }
    }

    public var defaultLevel: Int32 {
        switch self {
        case .none: return 0
        case .gzip: return 1
        case .zstd: return 1
        }
    }
}

public enum CompressionError: Error, Sendable, Equatable {
    case unsupportedLevel(CompressionAlgorithm, Int32)
    /// The library could not set itself up (out of memory).
    case initializationFailed(CompressionAlgorithm)
    /// The compressed input is damaged.
    case corruptInput(CompressionAlgorithm, detail: String)
    /// The compressed input ended before its end marker.
    case truncatedInput(CompressionAlgorithm)
    /// More bytes followed the end of the compressed stream.
    case trailingData(CompressionAlgorithm)
    /// The library failed while compressing.
    case compressionFailed(CompressionAlgorithm, detail: String)

    public var message: String {
        switch self {
        case .unsupportedLevel(let algorithm, let level):
            return "\(algorithm.rawValue) level \(level) is not offered (use \(algorithm.levels.lowerBound)"
                + "...\(algorithm.levels.upperBound))"
        case .initializationFailed(let algorithm):
            return "\(algorithm.rawValue) could not be initialised (out of memory?)"
        case .corruptInput(let algorithm, let detail):
            return "\(algorithm.rawValue) data is corrupt: \(detail)"
        case .truncatedInput(let algorithm):
            return "\(algorithm.rawValue) data is truncated"
        case .trailingData(let algorithm):
            return "unexpected bytes after the end of the \(algorithm.rawValue) data"
        case .compressionFailed(let algorithm, let detail):
            return "\(algorithm.rawValue) compression failed: \(detail)"
        }
    }
}

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

let outputBufferSize = 128 * 1024

/// One direction of one algorithm: consumes all of `input` (and with `finishing`, ends the
/// stream), handing every produced byte to `output`.
private protocol CodecEngine: AnyObject {
    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                 output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>)
}

private final class PassThroughEngine: CodecEngine {
    func process<Failure: Error>(_ input: UnsafeRawBufferPointer, finishing: Bool,
                                          output: (UnsafeRawBufferPointer) throws(Failure) -> Void)
        throws(CodecFailure<Failure>) {
        guard !input.isEmpty else { return }
        do { try output(input) } catch { throw .output(error) }
    }
}

/// gzip (RFC 1952) through zlib's deflate/inflate with the gzip wrapper.
private final class ZlibEngine: CodecEngine {
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

/// zstd frames through libzstd's streaming API, with the frame checksum on (it costs little
/// and lets the decompressor notice damage on its own).
private final class ZstdEngine: CodecEngine {
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
