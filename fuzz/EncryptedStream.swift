@testable import WALArchive

/// An encrypted object's body as wal-fetch decrypts it (`ChunkDecryptor`), hostile or damaged,
/// and the writer's side of the same format. Input: a mode byte, a piece-size byte, a
/// chunk-size byte, then the bytes.
/// Properties, mode even (the bytes are a stream to read, with the fuzzer's fixed keys):
/// - it is refused with a typed error, or accepted the same however it is cut into pieces;
/// - an accepted stream is the canonical one: encrypting what came out again with the
///   header's key, salt and chunk size gives exactly the input (one valid stream per
///   plaintext), so no other bytes are ever accepted for it;
/// - memory stays within one chunk (the header's chunk size is bounded before allocating);
/// - every refusal reports as one line.
/// Mode odd (the bytes are a plaintext): it round-trips at the chosen chunk size, and flipping
/// the byte the piece-size byte points at, or cutting the stream there, is refused.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEncryptedStream(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let mode = input.byte()
    let piece = 1 + Int(input.byte())
    let chunkSize = 1 + Int(input.byte()) * 17
    let bytes = input.rest()
    let keys = [EncryptionKey(bytes: [UInt8](repeating: 1, count: 32))!, EncryptionKey(bytes: [UInt8](repeating: 2, count: 32))!]
    let keyring = EncryptionKeyring(writeKey: keys[0], olderKeys: [keys[1]])

    if mode % 2 == 0 {
        let whole = decrypt(bytes, keyring: keyring, piece: bytes.count + 1)
        let pieces = decrypt(bytes, keyring: keyring, piece: piece)
        switch (whole, pieces) {
        case (.success(let plaintext), .success(let again)):
            require(plaintext == again, "the plaintext depends on how the stream was cut")
            let keyID = Array(bytes[8..<16])
            let key = keys.first { $0.idBytes == keyID }!
            let size = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let encrypted = encrypt(plaintext, key: key, salt: Array(bytes[20..<36]), chunkSize: size)
            require(encrypted == bytes, "an accepted stream is not the canonical encryption of its plaintext")
        case (.failure(let error), .failure):
            requireOneReportLine(error.message)
        default:
            require(false, "accepted whole but not in pieces, or the other way round")
        }
        return 0
    }
    let salt = [UInt8](repeating: mode, count: 16)
    let stream = encrypt(bytes, key: keys[1], salt: salt, chunkSize: chunkSize)
    require(Int64(stream.count) == EncryptedStream.encryptedLength(ofPlaintext: Int64(bytes.count), chunkSize: chunkSize),
            "the stream's length is not the one announced")
    guard case .success(let plaintext) = decrypt(stream, keyring: keyring, piece: piece) else {
        require(false, "a stream written with a configured key was refused")
        return 0
    }
    require(plaintext == bytes, "the round trip changed the bytes")
    var flipped = stream
    flipped[(piece * 131) % stream.count] ^= 0x40
    if case .success = decrypt(flipped, keyring: keyring, piece: piece) { require(false, "a flipped byte was accepted") }
    if case .success = decrypt(Array(stream.prefix((piece * 131) % stream.count)), keyring: keyring, piece: piece) {
        require(false, "a cut stream was accepted")
    }
    return 0
}

private func encrypt(_ plaintext: [UInt8], key: EncryptionKey, salt: [UInt8], chunkSize: Int) -> [UInt8] {
    guard let encryptor = try? ChunkEncryptor(key: key, salt: salt, chunkSize: chunkSize) else {
        require(false, "the encryptor refused a valid chunk size")
        return []
    }
    var output: [UInt8] = []
    do throws(CipherFailure<Never>) {
        try plaintext.withUnsafeBytes { bytes in
            Result { () throws(CipherFailure<Never>) in try encryptor.push(bytes) { output += $0 } }
        }.get()
        try encryptor.finish { output += $0 }
    } catch {
        require(false, "encrypting failed")
    }
    return output
}

private func decrypt(_ stream: [UInt8], keyring: EncryptionKeyring, piece: Int) -> Result<[UInt8], EncryptionError> {
    let decryptor = ChunkDecryptor(keyring: keyring)
    var output: [UInt8] = []
    var offset = 0
    do throws(CipherFailure<Never>) {
        while offset < stream.count {
            let end = min(stream.count, offset + piece)
            try stream[offset..<end].withUnsafeBytes { bytes in
                Result { () throws(CipherFailure<Never>) in try decryptor.push(bytes) { output += $0 } }
            }.get()
            offset = end
        }
        try decryptor.finish { output += $0 }
    } catch {
        switch error {
        case .cipher(let failure): return .failure(failure)
        }
    }
    return .success(output)
}
