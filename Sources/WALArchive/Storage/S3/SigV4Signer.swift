/// AWS Signature Version 4 (Authorization header form), with S3's rules by default: the
/// path is URI-encoded once and never normalized, and `x-amz-content-sha256` is signed.
///
/// Paths are given unencoded and encoded exactly once here. Other AWS services also
/// normalize the path (`.`/`..`, repeated slashes); `normalizePath` exists so the generic
/// AWS test suite can be run, and stays off for S3.
public final class SigV4Signer {

    /// Everything that goes into one signature. `path` and `query` are raw (not encoded);
    /// `headers` are what the request carries besides the ones the signer adds.
    public struct Request {
        public var method: String
        public var path: String
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    public struct Signature {
        public var canonicalRequest: String
        public var stringToSign: String
        /// Hex HMAC; a secret-derived value, never for messages or logs.
        public var signature: String
        /// Headers to send in addition to the request's own (`x-amz-date`, optionally
        /// `x-amz-content-sha256` and `x-amz-security-token`, and `Authorization`).
        public var addedHeaders: [(name: String, value: String)]
        /// Path and query exactly as signed, to put on the wire.
        public var encodedPath: String
        public var encodedQuery: String
    }

    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let provider: any CredentialsProvider
    private let region: String
    private let service: String
    private let normalizePath: Bool
    private var cachedKeyDate = ""
    private var cachedKeySecret = ""
    private var cachedKey: [UInt8] = []

    /// Signs with the keys `provider` hands out at each signature (temporary keys change).
    public init(provider: any CredentialsProvider, region: String, service: String = "s3", normalizePath: Bool = false) {
        self.provider = provider
        self.region = region
        self.service = service
        self.normalizePath = normalizePath
    }

    /// Signs with fixed keys.
    public convenience init(credentials: S3Settings.Credentials, region: String, service: String = "s3",
                            normalizePath: Bool = false) {
        self.init(provider: StaticCredentialsProvider(credentials), region: region, service: service,
                  normalizePath: normalizePath)
    }

    /// - Parameters:
    ///   - sendContentHash: add and sign `x-amz-content-sha256` (S3 requires it).
    ///   - signSessionToken: sign `x-amz-security-token`; when false it is still sent,
    ///     added after signing (some STS flows).
    /// - Throws: when the provider cannot produce keys (STS or metadata refused or unreachable).
    public func sign(_ request: Request, at time: UTCTime, sendContentHash: Bool = true,
                     signSessionToken: Bool = true) throws(StorageError) -> Signature {
        let credentials = try provider.credentials()
        let timestamp = time.basicISO8601
        let dateStamp = time.dateStamp
        var signed = request.headers
        signed.append((name: "x-amz-date", value: timestamp))
        if sendContentHash {
            signed.append((name: "x-amz-content-sha256", value: request.payloadHash))
        }
        if let token = credentials.sessionToken, signSessionToken {
            signed.append((name: "x-amz-security-token", value: token))
        }

        let (canonicalHeaders, signedHeaderNames) = Self.canonicalHeaders(signed)
        let encodedPath = canonicalURI(request.path)
        let encodedQuery = Self.canonicalQuery(request.query)
        let canonicalRequest = [request.method, encodedPath, encodedQuery, canonicalHeaders, signedHeaderNames,
                                request.payloadHash].joined(separator: "\n")
        let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope,
                            SHA256Hasher.hash(canonicalRequest.utf8).hexString].joined(separator: "\n")
        let signature = HMACSHA256.authenticate(stringToSign.utf8, key: signingKey(dateStamp: dateStamp,
                                                                                  secret: credentials.secretAccessKey)).hexString

        var added: [(name: String, value: String)] = [(name: "x-amz-date", value: timestamp)]
        if sendContentHash {
            added.append((name: "x-amz-content-sha256", value: request.payloadHash))
        }
        if let token = credentials.sessionToken {
            added.append((name: "x-amz-security-token", value: token))
        }
        added.append((name: "Authorization",
                      value: "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
                          + "SignedHeaders=\(signedHeaderNames), Signature=\(signature)"))
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
                         addedHeaders: added, encodedPath: encodedPath, encodedQuery: encodedQuery)
    }

    /// The derived key changes once a day, and with the keys; one HMAC chain per day and
    /// key instead of per request.
    private func signingKey(dateStamp: String, secret: String) -> [UInt8] {
        if dateStamp == cachedKeyDate && secret == cachedKeySecret { return cachedKey }
        var key = HMACSHA256.authenticate(dateStamp.utf8, key: Array(("AWS4" + secret).utf8))
        for part in [region, service, "aws4_request"] {
            key = HMACSHA256.authenticate(part.utf8, key: key)
        }
        cachedKeyDate = dateStamp
        cachedKeySecret = secret
        cachedKey = key
        return key
    }

    private func canonicalURI(_ rawPath: String) -> String {
        var path = rawPath.isEmpty ? "/" : rawPath
        if normalizePath { path = Self.normalizedPath(path) }
        return Self.uriEncode(path, keepSlash: true)
    }

    /// RFC 3986 dot-segment removal plus collapsing empty segments (generic SigV4 only).
    static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for part in parts {
            switch part {
            case "", ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(part)
            }
        }
        var result = "/" + segments.joined(separator: "/")
        let last = parts.last ?? ""
        if !segments.isEmpty && (last.isEmpty || last == "." || last == "..") { result += "/" }
        return result
    }

    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (uriEncode($0.name, keepSlash: false), uriEncode($0.value, keepSlash: false)) }
            .sorted { lhs, rhs in
                if lhs.0 != rhs.0 { return Array(lhs.0.utf8).lexicographicallyPrecedes(Array(rhs.0.utf8)) }
                return Array(lhs.1.utf8).lexicographicallyPrecedes(Array(rhs.1.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lower-cased names sorted; values trimmed with inner whitespace runs collapsed;
    /// repeated headers joined by commas in their original order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (String, String) {
        var merged: [String: String] = [:]
        for header in headers {
            let name = header.name.lowercased()
            let value = collapseWhitespace(header.value)
            if let existing = merged[name] {
                merged[name] = existing + "," + value
            } else {
                merged[name] = value
            }
        }
        let names = merged.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var lines = ""
        for name in names {
            lines += name + ":" + merged[name, default: ""] + "\n"
        }
        return (lines, names.joined(separator: ";"))
    }

    private static func collapseWhitespace(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .joined(separator: " ")
    }

    /// Percent-encodes every byte except RFC 3986 unreserved characters (and `/` when asked),
    /// upper-case hex, as S3 and SigV4 require.
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
