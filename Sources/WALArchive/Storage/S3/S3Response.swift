/// The parts of S3's XML answers the client reads: `Error` bodies and ListObjectsV2 pages.
struct S3ErrorBody: Equatable {
    var code = ""
    var message = ""
    var requestID = ""
    /// The bucket's region (AWS, in AuthorizationHeaderMalformed and PermanentRedirect).
    var region = ""
    /// The server's time (AWS, in RequestTimeTooSkewed).
    var serverTime = ""
    /// Where the bucket is served (AWS, in PermanentRedirect).
    var endpoint = ""

    /// Whatever could be read; an unreadable or empty body (HEAD, proxies) leaves fields empty.
    init(xml: [UInt8]) {
        for leaf in (try? XMLLeaves.parse(xml)) ?? [] {
            switch leaf.path {
            case "Error/Code": code = leaf.text
            case "Error/Message": message = leaf.text
            case "Error/RequestId": requestID = leaf.text
            case "Error/Region": region = leaf.text
            case "Error/ServerTime": serverTime = leaf.text
            case "Error/Endpoint": endpoint = leaf.text
            default: break
            }
        }
    }
}

struct ListObjectsPage: Equatable {
    var keys: [String] = []
    /// The keys with their size and time, in the same order.
    var objects: [ListedObject] = []
    var commonPrefixes: [String] = []
    var isTruncated = false
    var nextContinuationToken: String?

    init(xml: [UInt8]) throws(StorageError) {
        var sawRoot = false
        for leaf in try XMLLeaves.parse(xml) {
            sawRoot = sawRoot || leaf.path == "ListBucketResult" || leaf.path.hasPrefix("ListBucketResult/")
            switch leaf.path {
            case "ListBucketResult/Contents/Key":
                keys.append(leaf.text)
                objects.append(ListedObject(key: leaf.text, size: 0, lastModified: nil))
            // Key comes first in each Contents element (S3's documented order, kept by every
            // server we know); what follows belongs to the last key.
            case "ListBucketResult/Contents/Size":
                guard !objects.isEmpty, let size = Int64(leaf.text), size >= 0 else {
                    throw .invalidResponse(detail: "a listing entry with Size \"\(leaf.text.prefix(30))\"")
                }
                objects[objects.count - 1].size = size
            case "ListBucketResult/Contents/LastModified":
                if !objects.isEmpty { objects[objects.count - 1].lastModified = UTCTime(iso8601: leaf.text) }
            case "ListBucketResult/CommonPrefixes/Prefix": commonPrefixes.append(leaf.text)
            case "ListBucketResult/IsTruncated": isTruncated = leaf.text == "true"
            case "ListBucketResult/NextContinuationToken": nextContinuationToken = leaf.text.isEmpty ? nil : leaf.text
            default: break
            }
        }
        guard sawRoot else { throw .invalidResponse(detail: "a listing without ListBucketResult") }
    }
}

/// The answer to DeleteObjects in quiet mode: only the keys that were not deleted.
struct DeleteObjectsResult: Equatable {
    var failures: [DeleteFailure] = []

    init(xml: [UInt8]) throws(StorageError) {
        var sawRoot = false
        for leaf in try XMLLeaves.parse(xml) {
            sawRoot = sawRoot || leaf.path.hasPrefix("DeleteResult")
            switch leaf.path {
            // Key comes first in each Error element; Code and Message complete the last one.
            case "DeleteResult/Error/Key": failures.append(DeleteFailure(key: leaf.text, reason: ""))
            case "DeleteResult/Error/Code", "DeleteResult/Error/Message":
                guard !failures.isEmpty else { break }
                let reason = failures[failures.count - 1].reason
                failures[failures.count - 1].reason = reason.isEmpty ? leaf.text : reason + ": " + leaf.text
            default: break
            }
        }
        guard sawRoot else { throw .invalidResponse(detail: "a DeleteObjects answer without DeleteResult") }
    }

    /// The request document: `keys` in quiet mode (the answer lists only failures).
    static func request(keys: [String]) -> [UInt8] {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        for key in keys {
            text += "<Object><Key>" + XMLLeaves.escape(key) + "</Key></Object>"
        }
        return Array((text + "</Delete>").utf8)
    }
}

/// A deliberately small XML reader: yields every element that has no child elements as
/// its slash-joined path and decoded text. Enough for S3's flat, attribute-free answers.
enum XMLLeaves {
    struct Leaf: Equatable {
        var path: String
        var text: String
    }

    /// S3's answers nest three deep, and the longest path the client reads has 38 bytes
    /// (`ListBucketResult/NextContinuationToken`); STS's four deep, 93 bytes
    /// (`AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/SecretAccessKey`).
    /// A leaf with a longer path is skipped: keeping it would let a hostile body of n bytes cost
    /// O(n²) memory, each leaf repeating every ancestor's name in its path. With the limit, the
    /// leaves kept (each at least `<a/>`, four bytes) take at most about 32 bytes of path per
    /// byte of body.
    static let longestPathBytes = 128

    static func parse(_ bytes: [UInt8]) throws(StorageError) -> [Leaf] {
        var leaves: [Leaf] = []
        var names: [String] = []
        /// The length of `names` joined with "/".
        var pathBytes: [Int] = []
        var text: [UInt8] = []
        var hasChildren = false
        var index = 0
        func malformed(_ why: String) -> StorageError { .invalidResponse(detail: "malformed XML: \(why)") }

        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<") else {
                text.append(bytes[index])
                index += 1
                continue
            }
            if starts(bytes, at: index, with: "<![CDATA[") {
                guard let end = find(bytes, "]]>", from: index + 9) else { throw malformed("unterminated CDATA") }
                text.append(contentsOf: encodeEntities(bytes[(index + 9)..<end]))
                index = end + 3
            } else if starts(bytes, at: index, with: "<!--") {
                guard let end = find(bytes, "-->", from: index + 4) else { throw malformed("unterminated comment") }
                index = end + 3
            } else if starts(bytes, at: index, with: "<?") || starts(bytes, at: index, with: "<!") {
                guard let end = find(bytes, ">", from: index) else { throw malformed("unterminated declaration") }
                index = end + 1
            } else {
                guard let end = find(bytes, ">", from: index) else { throw malformed("unterminated tag") }
                let tag = bytes[(index + 1)..<end]
                index = end + 1
                if tag.first == UInt8(ascii: "/") {
                    guard let length = pathBytes.popLast() else { throw malformed("unbalanced closing tag") }
                    if !hasChildren, length <= longestPathBytes {
                        leaves.append(Leaf(path: names.joined(separator: "/"), text: try decodeEntities(text)))
                    }
                    names.removeLast()
                    hasChildren = true
                } else {
                    let selfClosing = tag.last == UInt8(ascii: "/")
                    let qualified = String(decoding: tag.prefix { !isSpace($0) && $0 != UInt8(ascii: "/") }, as: UTF8.self)
                    let name = String(qualified.split(separator: ":").last ?? Substring(qualified))
                    let length = (pathBytes.last.map { $0 + 1 } ?? 0) + name.utf8.count
                    names.append(name)
                    pathBytes.append(length)
                    if selfClosing {
                        if length <= longestPathBytes {
                            leaves.append(Leaf(path: names.joined(separator: "/"), text: ""))
                        }
                        names.removeLast()
                        pathBytes.removeLast()
                        hasChildren = true
                    } else {
                        hasChildren = false
                    }
                }
                text.removeAll(keepingCapacity: true)
            }
        }
        guard names.isEmpty else { throw malformed("document ends inside <\(names.last ?? "")>") }
        return leaves
    }

    static func decodeEntities(_ raw: [UInt8]) throws(StorageError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            guard raw[index] == UInt8(ascii: "&") else {
                output.append(raw[index])
                index += 1
                continue
            }
            guard let end = raw[index...].firstIndex(of: UInt8(ascii: ";")), end - index <= 12 else {
                throw .invalidResponse(detail: "malformed XML: a bare '&'")
            }
            let entity = String(decoding: raw[(index + 1)..<end], as: UTF8.self)
            switch entity {
            case "amp": output.append(UInt8(ascii: "&"))
            case "lt": output.append(UInt8(ascii: "<"))
            case "gt": output.append(UInt8(ascii: ">"))
            case "quot": output.append(UInt8(ascii: "\""))
            case "apos": output.append(UInt8(ascii: "'"))
            default:
                let number: UInt32?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    number = UInt32(entity.dropFirst(2), radix: 16)
                } else if entity.hasPrefix("#") {
                    number = UInt32(entity.dropFirst(), radix: 10)
                } else {
                    number = nil
                }
                guard let number, let scalar = Unicode.Scalar(number) else {
                    throw .invalidResponse(detail: "malformed XML: unknown entity &\(entity);")
                }
                output.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            index = end + 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Text for an element's content: the five characters XML reserves, as entities.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// CDATA text is literal; it is re-escaped so the shared entity decoding leaves it intact.
    private static func encodeEntities(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        for byte in raw {
            if byte == UInt8(ascii: "&") {
                output.append(contentsOf: Array("&amp;".utf8))
            } else {
                output.append(byte)
            }
        }
        return output
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    private static func starts(_ bytes: [UInt8], at index: Int, with prefix: String) -> Bool {
        let prefix = Array(prefix.utf8)
        return index + prefix.count <= bytes.count && Array(bytes[index..<(index + prefix.count)]) == prefix
    }

    private static func find(_ bytes: [UInt8], _ needle: String, from start: Int) -> Int? {
        let needle = Array(needle.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0] && Array(bytes[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}
