/// A 256-bit key of client-side encryption, and its id: the first 8 bytes of
/// HMAC-SHA256(key, "wal-archive key id"), 16 hex digits. The id is stored with every object
/// and in the archive identity, to pick the key that reads an object and to refuse a key the
/// archive does not know; it tells nothing about the key (a one-way function of it).
///
/// Printing a key (`description`, a debugger) shows only its id.
public struct EncryptionKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    static let idBytes = 8

    let bytes: [UInt8]
    /// The key id's 8 bytes.
    let idBytes: [UInt8]
    /// The key id: 16 lower-case hex digits.
    public let id: String

    /// Nil unless `bytes` is 32 bytes long.
    public init?(bytes: [UInt8]) {
        guard bytes.count == AESGCM.keyBytes else { return nil }
        self.bytes = bytes
        idBytes = Array(HMACSHA256.authenticate(Array("wal-archive key id".utf8), key: bytes).prefix(Self.idBytes))
        id = idBytes.hexString
    }

    /// The key of one object: HMAC-SHA256(key, "wal-archive object key" || 0 || salt). Every
    /// object has its own random salt, so no two objects share a key, and the nonces of its
    /// chunks may simply count.
    func objectKey(salt: [UInt8]) -> [UInt8] {
        HMACSHA256.authenticate(Array("wal-archive object key".utf8) + [0] + salt, key: bytes)
    }

    public var description: String { "encryption key \(id)" }
    public var debugDescription: String { description }

    /// 16 lower-case hex digits.
    public static func isKeyID(_ text: String) -> Bool {
        text.utf8.count == idBytes * 2
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// The keys one call has: the key that encrypts what it writes (`encryption_key_file`), and the
/// keys that may read an object (that one, then the older ones of `decryption_key_files`).
public struct EncryptionKeyring: Sendable, Equatable, CustomStringConvertible {
    public let writeKey: EncryptionKey?
    /// The write key first; each id once.
    public let readKeys: [EncryptionKey]

    public init(writeKey: EncryptionKey?, olderKeys: [EncryptionKey]) {
        self.writeKey = writeKey
        var keys: [EncryptionKey] = []
        for key in (writeKey.map { [$0] } ?? []) + olderKeys where !keys.contains(where: { $0.id == key.id }) {
            keys.append(key)
        }
        readKeys = keys
    }

    public func key(id: String) -> EncryptionKey? {
        readKeys.first { $0.id == id }
    }

    func key(idBytes: [UInt8]) -> EncryptionKey? {
        readKeys.first { $0.idBytes == idBytes }
    }

    /// The ids, for messages: `1a2b…, 3c4d…`.
    public var ids: [String] { readKeys.map(\.id) }

    public var description: String { "encryption keys " + ids.joined(separator: ", ") }
}
