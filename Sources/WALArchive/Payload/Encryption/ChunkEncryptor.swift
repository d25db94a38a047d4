/// Writes an `EncryptedStream`: bytes in through `push`, the header and sealed chunks out.
/// Memory: one chunk of plaintext and one sealed chunk. A chunk is sealed only when the next
/// byte arrives (or at `finish`, as the last chunk), so the last chunk is known to be last.
/// The same key, salt and input give the same bytes (`RecompressingUploadBody` relies on it).
public final class ChunkEncryptor {
    public let salt: [UInt8]
    private let header: [UInt8]
    private let chunkSize: Int
    private let cipher: AESGCM
    private let plaintext: UnsafeMutableRawBufferPointer
    private let sealed: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var index: UInt64 = 0
    private var headerWritten = false
    private var finished = false

    /// `salt` nil: 16 random bytes (the system's cryptographic generator).
    public init(key: EncryptionKey, salt: [UInt8]? = nil, chunkSize: Int = EncryptedStream.defaultChunkSize)
        throws(EncryptionError) {
        guard chunkSize > 0, chunkSize <= EncryptedStream.maximumChunkSize else { throw .invalidChunkSize(chunkSize) }
        let salt = salt ?? Self.randomSalt()
        guard salt.count == EncryptedStream.saltBytes,
              let cipher = AESGCM(key: key.objectKey(salt: salt), encrypting: true) else { throw .cipherFailed }
        self.salt = salt
        self.chunkSize = chunkSize
        self.cipher = cipher
        header = EncryptedStream.header(keyID: key.idBytes, chunkSize: chunkSize, salt: salt)
        plaintext = .allocate(byteCount: chunkSize, alignment: 16)
        sealed = .allocate(byteCount: max(chunkSize + AESGCM.tagBytes, EncryptedStream.headerBytes), alignment: 16)
    }

    deinit {
        plaintext.initializeMemory(as: UInt8.self, repeating: 0)
        plaintext.deallocate()
        sealed.deallocate()
    }

    public func push<Failure: Error>(_ input: UnsafeRawBufferPointer,
                                     output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard !finished else { throw .cipher(.finished) }
        try writeHeader(output)
        var offset = 0
        while offset < input.count {
            if buffered == chunkSize { try seal(last: false, output) }
            let count = min(input.count - offset, chunkSize - buffered)
            UnsafeMutableRawBufferPointer(rebasing: plaintext[buffered..<(buffered + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + count)]))
            buffered += count
            offset += count
        }
    }

    /// Seals what is buffered as the last chunk; the encryptor is spent afterwards.
    public func finish<Failure: Error>(output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard !finished else { throw .cipher(.finished) }
        try writeHeader(output)
        try seal(last: true, output)
        finished = true
    }

    private func writeHeader<Failure: Error>(_ output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard !headerWritten else { return }
        headerWritten = true
        // Through `sealed` (free until the first chunk): `withUnsafeBytes` would lose the
        // output's error type.
        let target = UnsafeMutableRawBufferPointer(rebasing: sealed[..<header.count])
        header.withUnsafeBytes { target.copyMemory(from: $0) }
        do { try output(UnsafeRawBufferPointer(target)) } catch { throw .output(error) }
    }

    private func seal<Failure: Error>(last: Bool, _ output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        let count = buffered + AESGCM.tagBytes
        let target = UnsafeMutableRawBufferPointer(rebasing: sealed[..<count])
        guard cipher.seal(nonce: EncryptedStream.nonce(index: index, last: last), authenticating: header,
                          UnsafeRawBufferPointer(rebasing: plaintext[..<buffered]), into: target) else {
            throw .cipher(.cipherFailed)
        }
        buffered = 0
        index += 1
        do { try output(UnsafeRawBufferPointer(target)) } catch { throw .output(error) }
    }

    static func randomSalt() -> [UInt8] {
        // SystemRandomNumberGenerator reads getrandom(2): cryptographically secure on Linux.
        var generator = SystemRandomNumberGenerator()
        return (0..<EncryptedStream.saltBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
