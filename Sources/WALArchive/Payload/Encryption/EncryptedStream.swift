/// The body of an encrypted object: the compressed bytes, encrypted with AES-256-GCM in
/// chunks, each sealed on its own, so that both sides stream in bounded memory (one chunk)
/// and no byte is used before its chunk's tag is proven.
///
///     header   36 bytes: "WALAENC" 0x01 (magic and version) | key id (8) |
///              chunk size (4, big-endian, plaintext bytes per chunk) | salt (16, random)
///     chunk i  ciphertext (chunk size bytes; the last one 0 ... chunk size) | tag (16)
///
/// Key: `EncryptionKey.objectKey(salt:)`, one per object. Nonce of chunk i: i as 8 big-endian
/// bytes, three zero bytes, then 1 for the last chunk and 0 for every other. Additional
/// authenticated data of every chunk: the header. So a chunk moved to another place, a chunk
/// of another object, a changed header, a dropped last chunk or a stream cut at a chunk
/// boundary (its new last chunk was sealed as not last) all fail a tag. There is always at
/// least one chunk, the last, even for an empty plaintext; a plaintext of an exact multiple of
/// the chunk size ends with a full last chunk.
public enum EncryptedStream {
    /// `wal-encryption` metadata value.
    public static let cipherName = "aes-256-gcm"
    static let magic: [UInt8] = Array("WALAENC".utf8) + [1]
    static let headerBytes = 36
    static let saltBytes = 16
    /// What writers use: 64 KiB (16 bytes of tag per 64 KiB, 0.02 %).
    public static let defaultChunkSize = 64 * 1024
    /// Readers accept chunk sizes up to this (bounds their memory for hostile headers).
    static let maximumChunkSize = 1 << 20

    /// Bytes of the encrypted stream of `plaintextLength` bytes.
    public static func encryptedLength(ofPlaintext plaintextLength: Int64, chunkSize: Int = defaultChunkSize) -> Int64 {
        let chunks = max(1, (plaintextLength + Int64(chunkSize) - 1) / Int64(chunkSize))
        return Int64(headerBytes) + plaintextLength + chunks * Int64(AESGCM.tagBytes)
    }

    static func header(keyID: [UInt8], chunkSize: Int, salt: [UInt8]) -> [UInt8] {
        let size = UInt32(chunkSize)
        return magic + keyID + [UInt8(size >> 24), UInt8(size >> 16 & 0xff), UInt8(size >> 8 & 0xff), UInt8(size & 0xff)] + salt
    }

    /// The parts of a header (exactly `headerBytes` bytes).
    static func parseHeader(_ header: [UInt8]) throws(EncryptionError) -> (keyID: [UInt8], chunkSize: Int, salt: [UInt8]) {
        guard header.count == headerBytes, Array(header[0..<7]) == Array(magic[0..<7]) else { throw .notEncrypted }
        guard header[7] == magic[7] else { throw .unsupportedVersion(header[7]) }
        let keyID = Array(header[8..<16])
        let chunkSize = header[16..<20].reduce(0) { $0 << 8 | Int($1) }
        guard chunkSize > 0, chunkSize <= maximumChunkSize else { throw .invalidChunkSize(chunkSize) }
        return (keyID, chunkSize, Array(header[20..<36]))
    }

    static func nonce(index: UInt64, last: Bool) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64($0))) } + [0, 0, 0, last ? 1 : 0]
    }
}

/// A cipher step failed, or the consumer of its output did.
public enum CipherFailure<OutputFailure: Error>: Error {
    case cipher(EncryptionError)
    case output(OutputFailure)
}

/// Why an encrypted stream cannot be written or read. Messages never hold key material.
public enum EncryptionError: Error, Sendable, Equatable {
    /// The bytes do not start with our header.
    case notEncrypted
    case unsupportedVersion(UInt8)
    case invalidChunkSize(Int)
    /// None of the configured keys has the object's key id.
    case unknownKey(id: String, known: [String])
    /// A chunk's tag does not hold: the bytes were changed, moved, or cut.
    case authenticationFailed(chunk: UInt64)
    /// The stream ended inside the header or inside a chunk's tag.
    case truncated
    /// Bytes were pushed after `finish`.
    case finished
    /// libcrypto failed (out of memory).
    case cipherFailed

    public var message: String {
        switch self {
        case .notEncrypted:
            return "it does not start with the header of an encrypted object"
        case .unsupportedVersion(let version):
            return "its encryption format version \(version) is not known to this wal-archive: upgrade wal-archive"
        case .invalidChunkSize(let size):
            return "its encryption header gives a chunk size of \(size) bytes (at most \(EncryptedStream.maximumChunkSize))"
        case .unknownKey(let id, let known):
            return "it was encrypted with key id \(id), and none of the configured keys (" + (known.isEmpty ? "none" : known.joined(separator: ", "))
                + ") has that id: add the file of that key to WAL_ARCHIVE_DECRYPTION_KEY_FILES"
        case .authenticationFailed(let chunk):
            return "its encrypted chunk \(chunk) fails authentication (changed, reordered or cut off)"
        case .truncated:
            return "its encrypted stream ends early (cut off)"
        case .finished:
            return "bytes follow the end of its encrypted stream"
        case .cipherFailed:
            return "libcrypto could not run AES-256-GCM (out of memory?)"
        }
    }
}
