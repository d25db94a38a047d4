/// A JSON document (RFC 8259) read strictly, for the small objects wal-archive keeps in an
/// archive (the archive identity). Whatever a reader does not understand it refuses instead of
/// guessing: duplicate keys, trailing bytes, invalid UTF-8, lone surrogates, control characters
/// in strings, numbers that are not integers or do not fit 64 bits, nesting deeper than
/// `maximumDepth`, documents larger than `maximumSize`.
public enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case null

    public static let maximumSize = 64 * 1024
    public static let maximumDepth = 16

    public init(parsing bytes: [UInt8]) throws(JSONError) {
        guard bytes.count <= Self.maximumSize else { throw .tooLarge(size: bytes.count, limit: Self.maximumSize) }
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw .syntax(offset: parser.index, expected: "the end of the document") }
    }

    /// The text of this value, keys in sorted order, indented by two spaces per level, so that
    /// the same value always encodes to the same bytes.
    public func encoded(indent: Int = 0) -> String {
        let padding = String(repeating: "  ", count: indent + 1)
        let closing = String(repeating: "  ", count: indent)
        switch self {
        case .object(let members):
            guard !members.isEmpty else { return "{}" }
            let lines = members.keys.sorted().map { padding + Self.quoted($0) + ": " + members[$0]!.encoded(indent: indent + 1) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + closing + "}"
        case .array(let elements):
            guard !elements.isEmpty else { return "[]" }
            let lines = elements.map { padding + $0.encoded(indent: indent + 1) }
            return "[\n" + lines.joined(separator: ",\n") + "\n" + closing + "]"
        case .string(let text):
            return Self.quoted(text)
        case .integer(let number):
            return String(number)
        case .bool(let flag):
            return flag ? "true" : "false"
        case .null:
            return "null"
        }
    }

    /// `text` as a JSON string: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}

public enum JSONError: Error, Sendable, Equatable {
    case tooLarge(size: Int, limit: Int)
    case syntax(offset: Int, expected: String)
    case tooDeep(offset: Int)
    case duplicateKey(String)
    case invalidString(offset: Int, reason: String)
    case unsupportedNumber(offset: Int)

    public var message: String {
        switch self {
        case .tooLarge(let size, let limit): return "\(size) bytes, more than the \(limit) allowed"
        case .syntax(let offset, let expected): return "byte \(offset): expected \(expected)"
        case .tooDeep(let offset): return "byte \(offset): nested deeper than \(JSONValue.maximumDepth) levels"
        case .duplicateKey(let key): return "the key \(JSONValue.quoted(String(key.prefix(64)))) appears twice"
        case .invalidString(let offset, let reason): return "byte \(offset): \(reason)"
        case .unsupportedNumber(let offset): return "byte \(offset): only whole numbers that fit 64 bits are accepted"
        }
    }
}

/// Recursive descent over the bytes; `index` is the next unread byte.
private struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard depth < JSONValue.maximumDepth else { throw .tooDeep(offset: index) }
        guard index < bytes.count else { throw .syntax(offset: index, expected: "a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
        default: throw .syntax(offset: index, expected: "a value")
        }
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if consume("}") { return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw .syntax(offset: index, expected: "a key in double quotes")
            }
            let key = try string()
            skipWhitespace()
            guard consume(":") else { throw .syntax(offset: index, expected: "`:`") }
            skipWhitespace()
            let member = try value(depth: depth + 1)
            guard members.updateValue(member, forKey: key) == nil else { throw .duplicateKey(key) }
            skipWhitespace()
            if consume("}") { return .object(members) }
            guard consume(",") else { throw .syntax(offset: index, expected: "`,` or `}`") }
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume("]") { return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if consume("]") { return .array(elements) }
            guard consume(",") else { throw .syntax(offset: index, expected: "`,` or `]`") }
        }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(character.value) else { return false }
        index += 1
        return true
    }

    private mutating func literal(_ word: String) throws(JSONError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw .syntax(offset: index, expected: "`\(word)`")
        }
        index += expected.count
    }

    /// `-?(0|[1-9][0-9]*)`; fractions and exponents are refused, not rounded.
    private mutating func integer() throws(JSONError) -> Int64 {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        let digits = index - digitsStart
        guard digits > 0 else { throw .syntax(offset: digitsStart, expected: "a digit") }
        guard digits == 1 || bytes[digitsStart] != UInt8(ascii: "0") else { throw .syntax(offset: digitsStart, expected: "no leading zero") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw .unsupportedNumber(offset: start)
        }
        guard let number = Int64(String(decoding: bytes[start..<index], as: UTF8.self)) else {
            throw .unsupportedNumber(offset: start)
        }
        return number
    }

    private mutating func string() throws(JSONError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = index
        func flushRun(_ end: Int) throws(JSONError) {
            guard runStart < end else { return }
            guard let text = String(validating: bytes[runStart..<end], as: UTF8.self) else {
                throw .invalidString(offset: runStart, reason: "invalid UTF-8")
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard index < bytes.count else { throw .invalidString(offset: index, reason: "the string does not end") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try flushRun(index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw .invalidString(offset: index, reason: "a control character inside a string") }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            try flushRun(index)
            index += 1
            guard index < bytes.count else { throw .invalidString(offset: index, reason: "the string does not end") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"): scalars.append(try escapedScalar())
            default: throw .invalidString(offset: index - 1, reason: "an unknown escape")
            }
            runStart = index
        }
    }

    /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair.
    private mutating func escapedScalar() throws(JSONError) -> Unicode.Scalar {
        let start = index - 2
        let first = try hexQuad()
        var value = first
        if (0xD800...0xDBFF).contains(first) {
            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw .invalidString(offset: start, reason: "a lone surrogate")
            }
            index += 2
            let second = try hexQuad()
            guard (0xDC00...0xDFFF).contains(second) else { throw .invalidString(offset: start, reason: "a lone surrogate") }
            value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else { throw .invalidString(offset: start, reason: "a lone surrogate") }
        return scalar
    }

    private mutating func hexQuad() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .invalidString(offset: index, reason: "a short \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .invalidString(offset: index, reason: "a \\u escape with a non-hex digit")
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }
}
