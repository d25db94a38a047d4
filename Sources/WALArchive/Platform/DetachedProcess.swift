import Glibc

/// Starting a child that outlives this process, detached from it (posix_spawn).
enum DetachedProcess {
    /// POSIX_SPAWN_SETSID (glibc 2.26+) is only declared to C with _GNU_SOURCE, which Swift's
    /// Glibc module does not set; the value is fixed in glibc's spawn.h.
    static let setSessionFlag: Int32 = 0x80

    /// Descriptors above stderr that PostgreSQL's processes left open without close-on-exec
    /// (the worker must not keep them alive after the server is gone).
    static func closeInheritedDescriptors() {
        guard let names = try? FileOperations.directoryEntries("/proc/self/fd") else { return }
        for descriptor in names.compactMap({ Int32($0) }) where descriptor > 2 { close(descriptor) }
    }

    /// Starts `executable` in a new session with stdin/stdout/stderr on /dev/null; does not wait for it (it is re-parented when this process exits).
    @discardableResult
    static func spawn(executable: String, arguments: [String], environment: [String: String]) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { return nil }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { return nil }
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(setSessionFlag | Int32(POSIX_SPAWN_SETSIGMASK)))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        return result == 0 ? pid : nil
    }

    /// The running executable's absolute path, as the kernel knows it.
    static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
