import CCrypto

/// Streaming SHA-256 over libcrypto's SHA256_* functions: the same code as EVP's SHA-256,
/// without EVP's provider lookup and the configuration loading of its first use (see
/// Sources/CCrypto/shim.h), which would dominate a call that signs no request.
public struct SHA256Hasher: ~Copyable {
    private let context: UnsafeMutablePointer<SHA256_CTX>

    public init() {
        context = .allocate(capacity: 1)
        // SHA256_Init only fills in the initial state; it cannot fail.
        SHA256_Init(context)
    }

    deinit { context.deallocate() }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        SHA256_Update(context, base, bytes.count)
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest; the hasher must not be used afterwards.
    public consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        SHA256_Final(&digest, context)
        return digest
    }

    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

public enum HMACSHA256 {
    public static func authenticate(_ message: some Sequence<UInt8>, key: [UInt8]) -> [UInt8] {
        let message = Array(message)
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { keyBuffer in
            message.withUnsafeBufferPointer { messageBuffer in
                _ = HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                         messageBuffer.baseAddress, messageBuffer.count, &mac, &length)
            }
        }
        return Array(mac.prefix(Int(length)))
    }
}

/// MD5, only where a protocol demands it as a transport check (S3 DeleteObjects' Content-MD5);
/// never for integrity of archived data, which is SHA-256.
public enum ContentMD5 {
    /// Base64 of the MD5 of `bytes`, the value of a `Content-MD5` header.
    public static func header(for bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        bytes.withUnsafeBytes { source in
            _ = EVP_Digest(source.baseAddress, source.count, &digest, &length, EVP_md5(), nil)
        }
        // Base64 of n bytes is 4·⌈n/3⌉ characters, plus the terminating NUL EVP_EncodeBlock writes.
        var encoded = [UInt8](repeating: 0, count: 4 * ((Int(length) + 2) / 3) + 1)
        let count = EVP_EncodeBlock(&encoded, digest, Int32(length))
        return String(decoding: encoded.prefix(Int(max(0, count))), as: UTF8.self)
    }
}

extension Sequence<UInt8> {
    /// Lower-case hexadecimal, as SigV4 and our checksum metadata write digests.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        for byte in self {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
