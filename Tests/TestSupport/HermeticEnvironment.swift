/// Variables every tool a test starts gets, so that nothing installed on the test machine can
/// change an outcome: no config file is read (not even /etc/wal-archive/wal-archive.conf), no
/// shared AWS file (~/.aws/credentials, ~/.aws/config), no request can go to a cloud metadata
/// address, and no credentials are cached in the user's home. A test that wants one of these
/// sets its own value (an empty value counts as unset, so `AWS_CONFIG_FILE: ""` means the
/// default ~/.aws/config of the HOME the test gives).
public enum HermeticEnvironment {
    public static let variables: [String: String] = [
        "WAL_ARCHIVE_CONFIG": "none",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_CONFIG_FILE": "/dev/null",
        "WAL_ARCHIVE_CREDENTIALS_CACHE": "none",
    ]

    /// `environment` on top of the hermetic variables (a test may still name a config file).
    public static func merged(with environment: [String: String]) -> [String: String] {
        variables.merging(environment) { _, new in new }
    }
}
