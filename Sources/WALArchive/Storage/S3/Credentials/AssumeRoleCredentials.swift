/// STS AssumeRole signed with another source's keys: a profile's `role_arn` with
/// `source_profile` or `credential_source`.
struct AssumeRoleCredentials: TemporaryCredentialsSource {
    let role: AssumedRole
    let sts: SecurityTokenService
    let signing: any CredentialsProvider

    var cacheIdentity: String {
        ["assume-role", sts.endpoint, role.roleARN, role.sessionName ?? "", role.externalID ?? "",
         role.durationSeconds.map(String.init) ?? "", role.source.description].joined(separator: "\n")
    }

    var name: String { "STS AssumeRole for \(role.roleARN) at \(sts.endpoint)" }

    func fetch() throws(StorageError) -> TemporaryCredentials {
        let keys = try signing.credentials()
        return try sts.assumeRole(roleARN: role.roleARN, sessionName: role.sessionName ?? CredentialFiles.defaultSessionName(),
                                  externalID: role.externalID, durationSeconds: role.durationSeconds, signedWith: keys)
    }
}
