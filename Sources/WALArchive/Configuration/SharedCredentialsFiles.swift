/// The AWS CLI's and SDKs' shared files: `AWS_SHARED_CREDENTIALS_FILE` (default
/// `~/.aws/credentials`, sections `[name]`) and `AWS_CONFIG_FILE` (default `~/.aws/config`,
/// sections `[default]` and `[profile name]`). A missing file is no error; an unreadable one is.
/// For a profile found in both, the credentials file's values win, as in the SDKs.
struct SharedCredentialsFiles {
    struct Property {
        var value: String
        var path: String
        var line: Int
    }

    let credentialsPath: String
    let configPath: String
    private var credentialsProfiles: [String: [String: Property]] = [:]
    private var configProfiles: [String: [String: Property]] = [:]

    init(environment: [String: String]) throws(ConfigurationError) {
        let home = HomeDirectory.path(environment: environment) ?? ""
        credentialsPath = nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]).map { Self.expandingHome($0, home) }
            ?? home + "/.aws/credentials"
        configPath = nonEmpty(environment["AWS_CONFIG_FILE"]).map { Self.expandingHome($0, home) } ?? home + "/.aws/config"
        credentialsProfiles = try Self.load(credentialsPath, isConfigFile: false)
        configProfiles = try Self.load(configPath, isConfigFile: true)
    }

    /// The profile's settings (keys lower case), or nil when neither file has it.
    func profile(_ name: String) -> [String: Property]? {
        let fromConfig = configProfiles[name]
        let fromCredentials = credentialsProfiles[name]
        guard fromConfig != nil || fromCredentials != nil else { return nil }
        return (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credentials in credentials }
    }

    var locations: String { "\(credentialsPath) or \(configPath)" }

    private static func expandingHome(_ path: String, _ home: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst() : path
    }

    private static func load(_ path: String, isConfigFile: Bool) throws(ConfigurationError) -> [String: [String: Property]] {
        guard FileOperations.exists(path) else { return [:] }
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(path)
        } catch {
            throw .unreadableConfigFile(path: path, reason: error.message)
        }
        var profiles: [String: [String: Property]] = [:]
        var current: String?
        for (index, rawLine) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated() {
            // Indented lines continue a nested setting (`s3 =` followed by its own keys); none
            // of those concern credentials.
            if let first = rawLine.first, first == " " || first == "\t" { continue }
            let line = CredentialFiles.trimmed(String(rawLine))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw .configFileSyntax(path: path, line: index + 1, detail: "a section header must end with `]`")
                }
                let section = CredentialFiles.trimmed(String(line.dropFirst().dropLast()))
                if !isConfigFile {
                    current = section
                } else if section == "default" {
                    current = section
                } else if section.hasPrefix("profile ") || section.hasPrefix("profile\t") {
                    current = CredentialFiles.trimmed(String(section.dropFirst(8)))
                } else {
                    // [sso-session …], [services …]: not profiles.
                    current = nil
                }
                if let current, profiles[current] == nil { profiles[current] = [:] }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw .configFileSyntax(path: path, line: index + 1, detail: "expected `key = value`")
            }
            guard let current else { continue }
            let key = CredentialFiles.trimmed(String(line[..<equals])).lowercased()
            let value = CredentialFiles.trimmed(String(line[line.index(after: equals)...]))
            profiles[current, default: [:]][key] = Property(value: value, path: path, line: index + 1)
        }
        return profiles
    }
}
