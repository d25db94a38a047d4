import Glibc

/// The user metadata stored with each archived object (docs/storage-layout.md): the SHA-256
/// and size of the ORIGINAL file, and how the body is encoded.
public struct PayloadMetadata: Sendable, Equatable {
    public static let sha256Name = "wal-sha256"
    public static let compressionName = "wal-compression"
    public static let sizeName = "wal-size"
    /// `aes-256-gcm` on an encrypted object (`EncryptedStream`), with the key id beside it.
    public static let encryptionName = "wal-encryption"
    public static let encryptionKeyIDName = "wal-encryption-key-id"

    public var algorithm: CompressionAlgorithm
    /// Lower-case hex; nil for an object written without our metadata.
    public var originalSHA256Hex: String?
    public var originalSize: Int64?
    /// The id of the key that encrypted the body; nil for a body that is not encrypted.
    public var encryptionKeyID: String?

    public init(algorithm: CompressionAlgorithm, originalSHA256Hex: String?, originalSize: Int64?,
                encryptionKeyID: String? = nil) {
        self.algorithm = algorithm
        self.originalSHA256Hex = originalSHA256Hex
        self.originalSize = originalSize
        self.encryptionKeyID = encryptionKeyID
    }

    /// The body is the file itself: neither compressed nor encrypted.
    public var isPlain: Bool { algorithm == .none && encryptionKeyID == nil }

    public var dictionary: [String: String] {
        var values = [Self.compressionName: algorithm.rawValue]
        if let originalSHA256Hex { values[Self.sha256Name] = originalSHA256Hex }
        if let originalSize { values[Self.sizeName] = String(originalSize) }
        if let encryptionKeyID {
            values[Self.encryptionName] = EncryptedStream.cipherName
            values[Self.encryptionKeyIDName] = encryptionKeyID
        }
        return values
    }

    /// Reads an object's metadata. An object without `wal-compression` was written by an
    /// older or foreign tool (e.g. `aws s3 cp` into the legacy flat layout): its encoding is
    /// taken from the key's suffix, and without `wal-sha256` there is no checksum to verify.
    /// Present but malformed values are refused: they mean damage, not age.
    public init(object: ObjectInfo) throws(PayloadError) {
        let metadata = object.metadata
        if let name = metadata[Self.compressionName] {
            guard let algorithm = CompressionAlgorithm(rawValue: name) else {
                throw .invalidMetadata(key: object.key, detail: "unknown \(Self.compressionName) \"\(name.prefix(40))\"")
            }
            self.algorithm = algorithm
        } else {
            algorithm = CompressionAlgorithm(keySuffixOf: object.key)
        }
        if let hex = metadata[Self.sha256Name] {
            let digits = hex.utf8
            guard digits.count == 64,
                  digits.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw .invalidMetadata(key: object.key, detail: "\(Self.sha256Name) is not 64 lower-case hex digits")
            }
            originalSHA256Hex = hex
        } else {
            originalSHA256Hex = nil
        }
        if let text = metadata[Self.sizeName] {
            guard let size = Int64(text), size >= 0 else {
                throw .invalidMetadata(key: object.key, detail: "\(Self.sizeName) is not a byte count")
            }
            originalSize = size
        } else {
            originalSize = nil
        }
        if let cipher = metadata[Self.encryptionName] {
            guard cipher == EncryptedStream.cipherName else {
                throw .invalidMetadata(key: object.key, detail: "unknown \(Self.encryptionName) \"\(cipher.prefix(40))\"")
            }
            guard let keyID = metadata[Self.encryptionKeyIDName], EncryptionKey.isKeyID(keyID) else {
                throw .invalidMetadata(key: object.key, detail: "\(Self.encryptionKeyIDName) is not 16 lower-case hex digits")
            }
            encryptionKeyID = keyID
        } else {
            encryptionKeyID = nil
        }
    }
}

/// Failures preparing an upload or verifying a download.
public enum PayloadError: Error, Sendable, Equatable {
    case localIO(operation: String, path: String, detail: String)
    /// A local write failed with ENOSPC or EDQUOT: the file system (or the user's quota on
    /// it) is full.
    case noSpace(operation: String, path: String, detail: String)
    case compression(CompressionError, path: String)
    case invalidMetadata(key: String, detail: String)
    case corruptObject(key: String, detail: String)
    case checksumMismatch(key: String, expected: String, actual: String)
    case sizeMismatch(key: String, expected: Int64, actual: Int64)
    /// The restored bytes are not a valid file of the requested name.
    case invalidContent(key: String, detail: String)
    /// An encrypted body that does not decrypt (damaged, cut, or of another key), or one this
    /// call has no key for, or a plaintext object where the archive is encrypted.
    case encryption(key: String, detail: String)
    case notBegun

    public var message: String {
        switch self {
        case .localIO(let operation, let path, let detail), .noSpace(let operation, let path, let detail):
            return "cannot \(operation) \(path): \(detail)"
        case .compression(let error, let path):
            return "compressing \(path) failed: \(error.message)"
        case .invalidMetadata(let key, let detail):
            return "object \(key) has invalid metadata: \(detail)"
        case .corruptObject(let key, let detail):
            return "object \(key) is corrupt: \(detail)"
        case .checksumMismatch(let key, let expected, let actual):
            return "object \(key) is corrupt: SHA-256 of its content is \(actual), its metadata says \(expected)"
        case .sizeMismatch(let key, let expected, let actual):
            return "object \(key) is corrupt: its content is \(actual) bytes, its metadata says \(expected)"
        case .invalidContent(let key, let detail):
            return "object \(key) is not the file requested: \(detail)"
        case .encryption(let key, let detail):
            return "object \(key) cannot be decrypted: \(detail)"
        case .notBegun:
            return "no download was started"
        }
    }

    /// A failed local file operation: `noSpace` for a full file system or quota, else `localIO`.
    static func local(operation: String, path: String, code: Int32) -> PayloadError {
        let detail = String(cString: strerror(code))
        return code == ENOSPC || code == EDQUOT ? .noSpace(operation: operation, path: path, detail: detail)
            : .localIO(operation: operation, path: path, detail: detail)
    }

    /// A local failure (either kind), as opposed to damaged or foreign content.
    var isLocal: Bool {
        switch self {
        case .localIO, .noSpace: return true
        default: return false
        }
    }
}
