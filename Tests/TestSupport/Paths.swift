import Foundation

/// Locations shared by the test targets.
public enum TestPaths {
    /// The package root, found from this source file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The build folder holding the test bundle, and so the `wal-push`/`wal-fetch` built with it
    /// (the test command builds every product before running the tests).
    public static var builtProducts: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Where tests make their scratch directories: tmpfs (`/dev/shm`) where the machine has it,
    /// else the system temp folder. No test relies on data surviving a crash, and on a disk
    /// every fsync of the directory store (file and directory, per object) costs milliseconds:
    /// building the locator's synthetic archives took 40 s on disk and 5 s on tmpfs.
    public static let scratch: URL = {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue,
           FileManager.default.isWritableFile(atPath: "/dev/shm") {
            return URL(fileURLWithPath: "/dev/shm")
        }
        return FileManager.default.temporaryDirectory
    }()
}
