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
}
