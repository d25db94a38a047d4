/// Reads an `EncryptedStream`: bytes as they arrive through `push`, the plaintext out, one
/// chunk at a time and only after that chunk's tag held. The key is picked by the header's
/// key id from a keyring. `finish` opens the buffered chunk as the last one: a stream cut at
/// a chunk boundary, or missing its last chunk, fails there. Memory: one sealed chunk and its
/// plaintext (at most `EncryptedStream.maximumChunkSize` each, whatever the header says).
public final class ChunkDecryptor {
    private let keyring: EncryptionKeyring
    private var header: [UInt8] = []
    private var cipher: AESGCM?
    private var sealed: UnsafeMutableRawBufferPointer?
    private var plaintext: UnsafeMutableRawBufferPointer?
    private var buffered = 0
    private var index: UInt64 = 0
    private var finished = false

    public init(keyring: EncryptionKeyring) {
        self.keyring = keyring
    }

    deinit {
        sealed?.deallocate()
        if let plaintext {
            plaintext.initializeMemory(as: UInt8.self, repeating: 0)
            plaintext.deallocate()
        }
    }

    public func push<Failure: Error>(_ input: UnsafeRawBufferPointer,
                                     output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard !finished else { throw .cipher(.finished) }
        var offset = 0
        if header.count < EncryptedStream.headerBytes {
            let count = min(input.count, EncryptedStream.headerBytes - header.count)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[..<count]))
            offset = count
            if header.count == EncryptedStream.headerBytes {
                do { try start() } catch { throw .cipher(error) }
            }
        }
        guard let sealed else { return }
        while offset < input.count {
            if buffered == sealed.count { try open(last: false, output) }
            let count = min(input.count - offset, sealed.count - buffered)
            UnsafeMutableRawBufferPointer(rebasing: sealed[buffered..<(buffered + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + count)]))
            buffered += count
            offset += count
        }
    }

    /// Opens the buffered chunk as the last one; the decryptor is spent afterwards.
    public func finish<Failure: Error>(output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard !finished else { throw .cipher(.finished) }
        guard sealed != nil, buffered >= AESGCM.tagBytes else { throw .cipher(.truncated) }
        try open(last: true, output)
        finished = true
    }

    private func start() throws(EncryptionError) {
        let parts = try EncryptedStream.parseHeader(header)
        guard let key = keyring.key(idBytes: parts.keyID) else {
            throw .unknownKey(id: parts.keyID.hexString, known: keyring.ids)
        }
        guard let cipher = AESGCM(key: key.objectKey(salt: parts.salt), encrypting: false) else { throw .cipherFailed }
        self.cipher = cipher
        sealed = .allocate(byteCount: parts.chunkSize + AESGCM.tagBytes, alignment: 16)
        plaintext = .allocate(byteCount: parts.chunkSize, alignment: 16)
    }

    private func open<Failure: Error>(last: Bool, _ output: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(CipherFailure<Failure>) {
        guard let cipher, let sealed, let plaintext else { throw .cipher(.truncated) }
        let count = buffered - AESGCM.tagBytes
        let target = UnsafeMutableRawBufferPointer(rebasing: plaintext[..<count])
        guard cipher.open(nonce: EncryptedStream.nonce(index: index, last: last), authenticating: header,
                          UnsafeRawBufferPointer(rebasing: sealed[..<buffered]), into: target) else {
            throw .cipher(.authenticationFailed(chunk: index))
        }
        buffered = 0
        index += 1
        do { try output(UnsafeRawBufferPointer(target)) } catch { throw .output(error) }
    }
}
