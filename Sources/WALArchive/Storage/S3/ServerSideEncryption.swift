import CCrypto

/// How S3 encrypts the objects it stores (`WAL_ARCHIVE_SSE`, `WAL_ARCHIVE_SSE_KMS_KEY_ID`,
/// `WAL_ARCHIVE_SSE_C_KEY_FILE`). Not a protection against the storage provider itself (it
/// holds or sees the keys); client-side encryption is (docs/security.md).
public enum ServerSideEncryption: Sendable, Equatable, CustomStringConvertible {
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    case s3Managed
    /// SSE-KMS with the given key (ID, ARN or alias), or the account's default `aws/s3` key.
    case kms(keyID: String?)
    /// SSE-C: S3 encrypts with a key we send with every PUT, GET and HEAD, and keeps only
    /// its MD5. Lose the key and the objects are lost.
    case customerKey(CustomerKey)

    public struct CustomerKey: Sendable, Equatable, CustomStringConvertible {
        public let key: [UInt8]

        /// 32 bytes (AES-256); nil otherwise.
        public init?(key: [UInt8]) {
            guard key.count == 32 else { return nil }
            self.key = key
        }

        /// The three headers S3 wants on PUT, GET and HEAD of an SSE-C object.
        var headers: [(name: String, value: String)] {
            [("x-amz-server-side-encryption-customer-algorithm", "AES256"),
             ("x-amz-server-side-encryption-customer-key", Base64.encode(key)),
             ("x-amz-server-side-encryption-customer-key-md5", Base64.encode(Self.md5(key)))]
        }

        public var description: String { "SSE-C key (32 bytes, not shown)" }

        private static func md5(_ bytes: [UInt8]) -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            bytes.withUnsafeBytes { input in
                _ = EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_md5(), nil)
            }
            return Array(digest.prefix(Int(length)))
        }
    }

    /// Headers of a PUT.
    var uploadHeaders: [(name: String, value: String)] {
        switch self {
        case .s3Managed: return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let keyID):
            return [("x-amz-server-side-encryption", "aws:kms")]
                + (keyID.map { [("x-amz-server-side-encryption-aws-kms-key-id", $0)] } ?? [])
        case .customerKey(let key): return key.headers
        }
    }

    /// Headers of a GET or HEAD: only SSE-C needs any (S3 decrypts the others by itself).
    var readHeaders: [(name: String, value: String)] {
        if case .customerKey(let key) = self { return key.headers }
        return []
    }

    public var description: String {
        switch self {
        case .s3Managed: return "AES256"
        case .kms(let keyID): return "aws:kms" + (keyID.map { " (\($0))" } ?? "")
        case .customerKey: return "SSE-C"
        }
    }
}
