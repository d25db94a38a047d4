/// A 256-bit key read from a file (SSE-C, client-side encryption): 64 hex digits, with or
/// without a trailing newline, or (where `allowsRawBytes`) exactly 32 bytes. Messages name the
/// file and never show what it holds.
enum KeyFile {
    static func readKey(_ value: ConfiguredValue, expected: String, allowsRawBytes: Bool) throws(ConfigurationError) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(value.value, limit: 4096)
        } catch {
            throw .unreadableSecretFile(origin: value.origin, reason: error.message)
        }
        if allowsRawBytes && bytes.count == 32 { return bytes }
        var text = bytes
        while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { text.removeLast() }
        if text.count == 64, let key = Hex.decode(text) { return key }
        throw .invalidValue(origin: "the file named by \(value.origin) (\(value.value))", shown: nil, expected: expected)
    }

    static func read(_ value: ConfiguredValue, purpose: String) throws(ConfigurationError) -> ServerSideEncryption.CustomerKey {
        let key = try readKey(value, expected: purpose, allowsRawBytes: true)
        guard let customerKey = ServerSideEncryption.CustomerKey(key: key) else {
            throw .invalidValue(origin: value.origin, shown: nil, expected: purpose)
        }
        return customerKey
    }
}
