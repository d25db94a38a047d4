/// STS AssumeRoleWithWebIdentity with the OIDC token from a file (EKS IRSA sets
/// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`). The file is read at every fetch:
/// Kubernetes replaces the projected token long before it expires, and a token read once and
/// kept would be refused by STS after that.
struct WebIdentityCredentials: TemporaryCredentialsSource {
    let role: WebIdentityRole
    let sts: SecurityTokenService

    var cacheIdentity: String {
        ["web-identity", sts.endpoint, role.roleARN, role.sessionName ?? "", role.tokenFile].joined(separator: "\n")
    }

    var name: String { "STS AssumeRoleWithWebIdentity for \(role.roleARN) at \(sts.endpoint)" }

    func fetch() throws(StorageError) -> TemporaryCredentials {
        let token = try CredentialFiles.readToken(role.tokenFile, purpose: "web identity token file (\(role.origin))")
        return try sts.assumeRoleWithWebIdentity(roleARN: role.roleARN,
                                                 sessionName: role.sessionName ?? CredentialFiles.defaultSessionName(),
                                                 token: token)
    }
}
