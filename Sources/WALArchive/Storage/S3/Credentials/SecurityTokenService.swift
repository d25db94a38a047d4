/// The two STS calls of the credential chain, over the Query API (form-encoded POST, XML
/// answer): AssumeRoleWithWebIdentity, which is not signed (the web identity token is the
/// proof), and AssumeRole, signed with the source profile's keys.
struct SecurityTokenService: Sendable, Hashable {
    /// `https://sts.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_STS`.
    var endpoint: String
    /// The signing region of AssumeRole.
    var region: String
    var caBundlePath: String?

    /// Requests for credentials wait this long at most per attempt, and this many attempts
    /// are made: STS answers in milliseconds when it answers at all.
    static let connectTimeoutMilliseconds = 3_000
    static let attemptTimeoutMilliseconds = 10_000
    static let maxAttempts = 3

    /// The regional endpoint, as the SDKs use by default (the global one is legacy).
    static func regionalEndpoint(region: String) -> String {
        "https://sts.\(region).amazonaws.com" + (region.hasPrefix("cn-") ? ".cn" : "")
    }

    func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, token: String) throws(StorageError) -> TemporaryCredentials {
        try call("AssumeRoleWithWebIdentity", role: roleARN, secrets: [token],
                 parameters: [("RoleArn", roleARN), ("RoleSessionName", sessionName), ("WebIdentityToken", token)],
                 signedWith: nil)
    }

    func assumeRole(roleARN: String, sessionName: String, externalID: String?, durationSeconds: Int?,
                    signedWith keys: S3Settings.Credentials) throws(StorageError) -> TemporaryCredentials {
        var parameters = [("RoleArn", roleARN), ("RoleSessionName", sessionName)]
        if let externalID { parameters.append(("ExternalId", externalID)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        return try call("AssumeRole", role: roleARN, secrets: [], parameters: parameters, signedWith: keys)
    }

    private func call(_ action: String, role: String, secrets: [String], parameters: [(String, String)],
                      signedWith keys: S3Settings.Credentials?) throws(StorageError) -> TemporaryCredentials {
        let what = "STS \(action) for \(role) at \(endpoint)"
        let form = ([("Action", action), ("Version", "2011-06-15")] + parameters)
            .map { SigV4Signer.uriEncode($0.0, keepSlash: false) + "=" + SigV4Signer.uriEncode($0.1, keepSlash: false) }
            .joined(separator: "&")
        let body = Array(form.utf8)
        guard let (scheme, authority) = splitScheme(endpoint), scheme == "https" || scheme == "http",
              !authority.isEmpty, !authority.contains("/") else {
            throw .rejected(status: 0, code: "InvalidEndpoint", message: "STS endpoint \(endpoint) is not http(s)://host[:port]",
                            requestID: "")
        }
        let client = try CurlClient(lowSpeedTimeoutSeconds: 5, caBundlePath: caBundlePath)
        let retryPolicy = RetryPolicy(maxAttempts: Self.maxAttempts, budgetSeconds: 15)
        let clock = MonotonicClock()
        var attempt = 0
        while true {
            attempt += 1
            var headers: [(name: String, value: String)] = [("host", authority),
                                                            ("content-type", "application/x-www-form-urlencoded; charset=utf-8")]
            if let keys {
                let signer = SigV4Signer(credentials: keys, region: region, service: "sts")
                let signature = try signer.sign(.init(method: "POST", path: "/", headers: headers,
                                                      payloadHash: SHA256Hasher.hash(body).hexString),
                                                at: UTCTime.now(), sendContentHash: false)
                headers += signature.addedHeaders
            }
            let request = CurlClient.Request(method: .post, url: endpoint + "/", headers: headers, upload: MemoryUploadBody(body),
                                             connectTimeoutMilliseconds: Self.connectTimeoutMilliseconds,
                                             timeoutMilliseconds: Self.attemptTimeoutMilliseconds)
            let response: CurlClient.Response
            do {
                response = try client.perform(request)
            } catch {
                switch error {
                case .stopped(let stopped): throw stopped
                case .transport(let detail, let transient):
                    guard transient, let delay = retryPolicy.delayBeforeRetry(
                        after: attempt, elapsedMilliseconds: clock.elapsedMilliseconds) else {
                        throw .unavailable(detail: "\(what): \(detail) (\(attempt) attempt(s))")
                    }
                    MonotonicClock.sleep(milliseconds: delay)
                    continue
                }
            }
            let status = response.head.status
            if (200..<300).contains(status) {
                return try Self.credentials(in: response.body, action: action, what: what)
            }
            let error = STSErrorBody(xml: response.body)
            let message = Self.scrub(error.message, secrets)
            let problem = "\(what): HTTP \(status) \(error.code)" + (message.isEmpty ? "" : ": \(message)")
            guard status == 429 || status >= 500 || Self.transientCodes.contains(error.code) else {
                throw .accessDenied(detail: problem)
            }
            guard let delay = retryPolicy.delayBeforeRetry(after: attempt, elapsedMilliseconds: clock.elapsedMilliseconds) else {
                throw .unavailable(detail: "\(problem) (\(attempt) attempt(s))")
            }
            MonotonicClock.sleep(milliseconds: delay)
        }
    }

    /// STS's own "try again" answers (the identity provider did not answer STS in time).
    private static let transientCodes: Set<String> = ["IDPCommunicationError", "Throttling", "ThrottlingException",
                                                      "RequestTimeout", "ServiceUnavailable", "InternalFailure"]

    private static func credentials(in xml: [UInt8], action: String, what: String) throws(StorageError) -> TemporaryCredentials {
        var fields: [String: String] = [:]
        let prefix = "\(action)Response/\(action)Result/Credentials/"
        for leaf in try XMLLeaves.parse(xml) where leaf.path.hasPrefix(prefix) {
            fields[String(leaf.path.dropFirst(prefix.count))] = leaf.text
        }
        guard let accessKey = nonEmpty(fields["AccessKeyId"]), let secret = nonEmpty(fields["SecretAccessKey"]),
              let token = nonEmpty(fields["SessionToken"]) else {
            throw .invalidResponse(detail: "\(what): the answer holds no credentials")
        }
        guard let expiration = fields["Expiration"].flatMap(UTCTime.init(iso8601:)) else {
            throw .invalidResponse(detail: "\(what): the credentials' expiration is missing or unreadable")
        }
        return TemporaryCredentials(keys: .init(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: token),
                                    expiration: expiration)
    }

    /// An error message quoting a secret we sent is shortened to not quote it.
    static func scrub(_ text: String, _ secrets: [String]) -> String {
        var result = text
        for secret in secrets where secret.count >= 8 {
            result = result.replacingOccurrences(of: secret, with: "(secret)")
        }
        return result
    }
}

/// `ErrorResponse/Error/{Code,Message}` of an STS answer (some STS-compatible servers wrap
/// the error in `Errors`, as the EC2 Query API does).
private struct STSErrorBody {
    var code = ""
    var message = ""

    init(xml: [UInt8]) {
        for leaf in (try? XMLLeaves.parse(xml)) ?? [] {
            switch leaf.path {
            case "ErrorResponse/Error/Code", "ErrorResponse/Errors/Error/Code": code = leaf.text
            case "ErrorResponse/Error/Message", "ErrorResponse/Errors/Error/Message": message = leaf.text
            default: break
            }
        }
    }
}

extension String {
    /// Every occurrence of `target` replaced (the standard library has no such call without
    /// Foundation).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
