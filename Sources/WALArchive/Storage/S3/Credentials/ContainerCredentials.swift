/// The ECS task role and EKS Pod Identity endpoint: a GET of `AWS_CONTAINER_CREDENTIALS_FULL_URI`
/// (or `http://169.254.170.2` + `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`), with the
/// `Authorization` token when one is configured, answered with JSON
/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`.
struct ContainerCredentials: TemporaryCredentialsSource {
    let endpoint: ContainerEndpoint
    let caBundlePath: String?

    /// The SDKs wait about a second or two, and try again once: the agent is on the host.
    static let timeoutMilliseconds = 2_000
    static let attempts = 2

    var cacheIdentity: String { ["container", endpoint.url].joined(separator: "\n") }

    var name: String { "the container credentials endpoint \(endpoint.url)" }

    func fetch() throws(StorageError) -> TemporaryCredentials {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        var secrets: [String] = []
        if let file = endpoint.authorizationTokenFile {
            let token = try CredentialFiles.readToken(file, purpose: "container authorization token file (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)")
            headers.append(("Authorization", token))
            secrets.append(token)
        } else if let token = endpoint.authorizationToken {
            headers.append(("Authorization", token))
            secrets.append(token)
        }
        let client = try CurlClient(lowSpeedTimeoutSeconds: 2, caBundlePath: caBundlePath, bypassesProxy: true)
        var lastProblem = ""
        for _ in 0..<Self.attempts {
            let response: CurlClient.Response
            do {
                response = try client.perform(.init(method: .get, url: endpoint.url, headers: headers, upload: nil,
                                                     connectTimeoutMilliseconds: Self.timeoutMilliseconds,
                                                     timeoutMilliseconds: Self.timeoutMilliseconds))
            } catch {
                switch error {
                case .stopped(let stopped): throw stopped
                case .transport(let detail, _): lastProblem = detail
                }
                continue
            }
            let status = response.head.status
            let document = Self.members(response.body)
            guard (200..<300).contains(status) else {
                let message = SecurityTokenService.scrub(Self.string(document?["message"] ?? document?["Message"]) ?? "", secrets)
                let problem = "HTTP \(status)" + (message.isEmpty ? "" : ": \(message)")
                if status >= 500 || status == 429 {
                    lastProblem = problem
                    continue
                }
                throw .accessDenied(detail: "\(name) refused: \(problem)")
            }
            guard let document else { throw .invalidResponse(detail: "\(name) answered with something other than a JSON object") }
            return try Self.credentials(in: document, from: name)
        }
        throw .unavailable(detail: "\(name) did not answer: \(lastProblem)")
    }

    /// The members of a JSON object, or nil for anything else.
    static func members(_ bytes: [UInt8]) -> [String: JSONValue]? {
        guard case .object(let members)? = try? JSONValue(parsing: bytes) else { return nil }
        return members
    }

    static func string(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value else { return nil }
        return text
    }

    /// The answer of the container endpoint and of EC2 metadata (same member names).
    static func credentials(in document: [String: JSONValue], from name: String) throws(StorageError) -> TemporaryCredentials {
        guard let accessKey = nonEmpty(string(document["AccessKeyId"])),
              let secret = nonEmpty(string(document["SecretAccessKey"])) else {
            throw .invalidResponse(detail: "\(name) answered without AccessKeyId and SecretAccessKey")
        }
        var expiration: UTCTime?
        if let text = string(document["Expiration"]) {
            guard let parsed = UTCTime(iso8601: text) else {
                throw .invalidResponse(detail: "\(name) answered with an unreadable Expiration")
            }
            expiration = parsed
        }
        return TemporaryCredentials(keys: .init(accessKeyID: accessKey, secretAccessKey: secret,
                                                sessionToken: nonEmpty(string(document["Token"]))),
                                    expiration: expiration)
    }
}
