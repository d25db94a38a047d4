import CCrypto

/// AES-256-GCM through libcrypto's EVP interface: one key, then one sealed message per call,
/// each with its own 96-bit nonce, additional authenticated data and 128-bit tag. The caller
/// never uses a nonce twice with one key (EncryptedStream derives a key per object).
///
/// `open` writes the decrypted bytes to `output` before the tag is checked (GCM can only check
/// at the end): the caller must not use them unless `open` returned true.
final class AESGCM {
    static let keyBytes = 32
    static let nonceBytes = 12
    static let tagBytes = 16

    private let context: OpaquePointer
    private let encrypting: Bool

    /// Nil when libcrypto cannot set the cipher up (out of memory) or the key is not 32 bytes.
    init?(key: [UInt8], encrypting: Bool) {
        guard key.count == Self.keyBytes, let context = EVP_CIPHER_CTX_new() else { return nil }
        self.context = context
        self.encrypting = encrypting
        let initialised = key.withUnsafeBufferPointer { keyBytes in
            encrypting ? EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, keyBytes.baseAddress, nil)
                : EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, keyBytes.baseAddress, nil)
        }
        guard initialised == 1 else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
    }

    deinit {
        // Also clears the expanded key from memory.
        EVP_CIPHER_CTX_free(context)
    }

    /// Encrypts `plaintext` into `output` (exactly `plaintext.count + tagBytes` bytes: the
    /// ciphertext, then the tag). False only if libcrypto fails.
    func seal(nonce: [UInt8], authenticating aad: [UInt8], _ plaintext: UnsafeRawBufferPointer,
              into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard encrypting, nonce.count == Self.nonceBytes, output.count == plaintext.count + Self.tagBytes,
              let outputBase = output.baseAddress else { return false }
        let out = outputBase.assumingMemoryBound(to: UInt8.self)
        guard nonce.withUnsafeBufferPointer({ EVP_EncryptInit_ex(context, nil, nil, nil, $0.baseAddress) }) == 1,
              addAuthenticated(aad) else { return false }
        var written: Int32 = 0
        if let input = plaintext.baseAddress, !plaintext.isEmpty {
            guard EVP_EncryptUpdate(context, out, &written, input.assumingMemoryBound(to: UInt8.self),
                                    Int32(plaintext.count)) == 1, Int(written) == plaintext.count else { return false }
        }
        var final: Int32 = 0
        guard EVP_EncryptFinal_ex(context, out + Int(written), &final) == 1, final == 0 else { return false }
        return EVP_CIPHER_CTX_ctrl(context, wal_archive_gcm_get_tag, Int32(Self.tagBytes), out + plaintext.count) == 1
    }

    /// Decrypts `sealed` (ciphertext, then tag) into `output` (exactly `sealed.count - tagBytes`
    /// bytes) and checks the tag; true only if it holds for this key, nonce and `aad`.
    func open(nonce: [UInt8], authenticating aad: [UInt8], _ sealed: UnsafeRawBufferPointer,
              into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard !encrypting, nonce.count == Self.nonceBytes, sealed.count >= Self.tagBytes,
              output.count == sealed.count - Self.tagBytes, let sealedBase = sealed.baseAddress else { return false }
        let input = sealedBase.assumingMemoryBound(to: UInt8.self)
        guard nonce.withUnsafeBufferPointer({ EVP_DecryptInit_ex(context, nil, nil, nil, $0.baseAddress) }) == 1,
              addAuthenticated(aad) else { return false }
        var written: Int32 = 0
        if let outputBase = output.baseAddress, !output.isEmpty {
            guard EVP_DecryptUpdate(context, outputBase.assumingMemoryBound(to: UInt8.self), &written, input,
                                    Int32(output.count)) == 1, Int(written) == output.count else { return false }
        }
        var tag = Array(UnsafeBufferPointer(start: input + output.count, count: Self.tagBytes))
        guard EVP_CIPHER_CTX_ctrl(context, wal_archive_gcm_set_tag, Int32(Self.tagBytes), &tag) == 1 else { return false }
        var final: Int32 = 0
        var ignored: UInt8 = 0
        return EVP_DecryptFinal_ex(context, &ignored, &final) > 0
    }

    private func addAuthenticated(_ aad: [UInt8]) -> Bool {
        guard !aad.isEmpty else { return true }
        var written: Int32 = 0
        return aad.withUnsafeBufferPointer { bytes in
            encrypting ? EVP_EncryptUpdate(context, nil, &written, bytes.baseAddress, Int32(bytes.count)) == 1
                : EVP_DecryptUpdate(context, nil, &written, bytes.baseAddress, Int32(bytes.count)) == 1
        }
    }
}
