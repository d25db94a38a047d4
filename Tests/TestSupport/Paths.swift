import Foundation

/// Locations shared by the test targets.
public enum TestPaths {
    /// The package root, found from this source file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var fixtures: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
}
