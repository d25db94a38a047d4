/// What a reader does about encryption: the keys it has, and whether every object must be
/// encrypted: in an encrypted archive, and wherever an `encryption_key_file` is configured
/// (so that replacing the identity with an unencrypted one does not turn the check off), an
/// object without encryption is refused: anyone able to write to the store could otherwise put
/// a plaintext file of their making there.
public struct ObjectDecryption: Sendable, Equatable {
    public var keyring: EncryptionKeyring?
    public var required: Bool

    public init(keyring: EncryptionKeyring?, required: Bool) {
        self.keyring = keyring
        self.required = required
    }

    /// An unencrypted archive read without keys.
    public static let none = ObjectDecryption(keyring: nil, required: false)

    /// The decryptor for an object with this metadata; nil for a plaintext object this reader
    /// accepts. Throws (naming what to configure) when the object cannot be read here.
    func decryptor(for metadata: PayloadMetadata, key: String) throws(PayloadError) -> ChunkDecryptor? {
        guard let keyID = metadata.encryptionKeyID else {
            guard !required else {
                throw .encryption(key: key, detail: "it is not encrypted, and encryption is required here (the archive is "
                    + "encrypted, or an encryption key is configured): refused, it was not written by wal-push with the key")
            }
            return nil
        }
        guard let keyring, !keyring.readKeys.isEmpty else {
            throw .encryption(key: key, detail: "it is encrypted (key id \(keyID)), and no key is configured: set "
                + "WAL_ARCHIVE_ENCRYPTION_KEY_FILE or WAL_ARCHIVE_DECRYPTION_KEY_FILES")
        }
        guard keyring.key(id: keyID) != nil else {
            throw .encryption(key: key, detail: EncryptionError.unknownKey(id: keyID, known: keyring.ids).message)
        }
        return ChunkDecryptor(keyring: keyring)
    }
}
