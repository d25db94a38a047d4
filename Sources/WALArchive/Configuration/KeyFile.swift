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
        if text.count == 64, let key = hexDecode(text) { return key }
        throw .invalidValue(origin: "the file named by \(value.origin) (\(value.value))", shown: nil, expected: expected)
    }

    static func read(_ value: ConfiguredValue, purpose: String) throws(ConfigurationError) -> ServerSideEncryption.CustomerKey {
        let key = try readKey(value, expected: purpose, allowsRawBytes: true)
        guard let customerKey = ServerSideEncryption.CustomerKey(key: key) else {
            throw .invalidValue(origin: value.origin, shown: nil, expected: purpose)
        }
        return customerKey
    }

    static func hexDecode(_ digits: [UInt8]) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }
}
