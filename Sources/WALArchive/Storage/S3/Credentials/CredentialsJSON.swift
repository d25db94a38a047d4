/// The few JSON documents the credential endpoints answer with (ECS/EKS container
/// credentials, EC2 instance metadata): one object whose interesting members are strings.
/// A small strict reader instead of Foundation, which the library does not link. Members of
/// other types are read and skipped; anything malformed is refused.
struct CredentialsJSON {
    /// The top-level object's string members.
    private(set) var strings: [String: String] = [:]

    struct Malformed: Error {
        var reason: String
    }

    init(parsing bytes: [UInt8]) throws(Malformed) {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        guard reader.peek() == UInt8(ascii: "{") else { throw Malformed(reason: "not a JSON object") }
        try reader.readObject { name, reader throws(Malformed) in
            if reader.peek() == UInt8(ascii: "\"") {
                strings[name] = try reader.readString()
            } else {
                try reader.skipValue()
            }
        }
        reader.skipSpace()
        guard reader.isAtEnd else { throw Malformed(reason: "text after the JSON object") }
    }

    subscript(_ name: String) -> String? { strings[name] }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        var isAtEnd: Bool { index >= bytes.count }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ character: Character) throws(Malformed) {
            skipSpace()
            guard peek() == character.asciiValue else { throw Malformed(reason: "expected `\(character)`") }
            index += 1
        }

        mutating func readObject(_ member: (String, inout Reader) throws(Malformed) -> Void) throws(Malformed) {
            depth += 1
            guard depth <= 32 else { throw Malformed(reason: "nested too deeply") }
            try expect("{")
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return
            }
            while true {
                skipSpace()
                let name = try readString()
                try expect(":")
                skipSpace()
                try member(name, &self)
                skipSpace()
                guard let byte = peek() else { throw Malformed(reason: "unterminated object") }
                index += 1
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else { throw Malformed(reason: "expected `,` or `}`") }
            }
            depth -= 1
        }

        mutating func skipValue() throws(Malformed) {
            skipSpace()
            guard let byte = peek() else { throw Malformed(reason: "missing value") }
            switch byte {
            case UInt8(ascii: "\""):
                _ = try readString()
            case UInt8(ascii: "{"):
                try readObject { _, reader throws(Malformed) in try reader.skipValue() }
            case UInt8(ascii: "["):
                depth += 1
                guard depth <= 32 else { throw Malformed(reason: "nested too deeply") }
                index += 1
                skipSpace()
                if peek() == UInt8(ascii: "]") {
                    index += 1
                } else {
                    while true {
                        try skipValue()
                        skipSpace()
                        guard let next = peek() else { throw Malformed(reason: "unterminated array") }
                        index += 1
                        if next == UInt8(ascii: "]") { break }
                        guard next == UInt8(ascii: ",") else { throw Malformed(reason: "expected `,` or `]`") }
                    }
                }
                depth -= 1
            default:
                // true, false, null or a number: a run of their characters.
                let start = index
                while let next = peek(), (next >= UInt8(ascii: "a") && next <= UInt8(ascii: "z"))
                    || (next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9"))
                    || next == UInt8(ascii: "-") || next == UInt8(ascii: "+") || next == UInt8(ascii: ".")
                    || next == UInt8(ascii: "E") {
                    index += 1
                }
                let word = String(decoding: bytes[start..<index], as: UTF8.self)
                guard word == "true" || word == "false" || word == "null" || Double(word) != nil else {
                    throw Malformed(reason: "unexpected value")
                }
            }
        }

        mutating func readString() throws(Malformed) -> String {
            guard peek() == UInt8(ascii: "\"") else { throw Malformed(reason: "expected a string") }
            index += 1
            var output: [UInt8] = []
            while true {
                guard let byte = peek() else { throw Malformed(reason: "unterminated string") }
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: output, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek() else { throw Malformed(reason: "unterminated escape") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escaped)
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try readHex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard peek() == UInt8(ascii: "\\") else { throw Malformed(reason: "lone surrogate") }
                            index += 1
                            guard peek() == UInt8(ascii: "u") else { throw Malformed(reason: "lone surrogate") }
                            index += 1
                            let low = try readHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw Malformed(reason: "lone surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let character = Unicode.Scalar(scalar) else { throw Malformed(reason: "bad \\u escape") }
                        output.append(contentsOf: Array(String(Character(character)).utf8))
                    default:
                        throw Malformed(reason: "bad escape")
                    }
                default:
                    guard byte >= 0x20 else { throw Malformed(reason: "control character in a string") }
                    output.append(byte)
                }
            }
        }

        private mutating func readHex4() throws(Malformed) -> UInt32 {
            guard index + 4 <= bytes.count,
                  let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else {
                throw Malformed(reason: "bad \\u escape")
            }
            index += 4
            return value
        }
    }
}
