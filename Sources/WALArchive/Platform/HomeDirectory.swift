import Glibc

/// The user's home: `$HOME`, else the password database's entry (PostgreSQL's service may
/// run without HOME set).
enum HomeDirectory {
    static func path(environment: [String: String]) -> String? {
        if let home = nonEmpty(environment["HOME"]) { return home }
        guard let entry = getpwuid(geteuid()), let directory = entry.pointee.pw_dir else { return nil }
        return nonEmpty(String(cString: directory))
    }
}
