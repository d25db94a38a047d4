// swift-tools-version:6.0
import PackageDescription

// No Swift package dependencies on purpose: each invocation is a fresh process per WAL
// segment, so start-up cost and binary size matter more than convenience.
let package = Package(
    name: "wal-archive",
    products: [
        .executable(name: "wal-push", targets: ["wal-push"]),
        .executable(name: "wal-fetch", targets: ["wal-fetch"]),
        .executable(name: "wal-archive", targets: ["wal-archive"]),
        .library(name: "WALArchive", targets: ["WALArchive"]),
    ],
    targets: [
        // libcurl is loaded at run time by CCurl's own C (on the first S3 request, not at every
        // start-up): a C target, built against curl's header from libcurl4-openssl-dev.
        .target(name: "CCurl"),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "WALArchive", dependencies: ["CCurl", "CCrypto", "CZlib", "CZstd"]),
        .executableTarget(name: "wal-push", dependencies: ["WALArchive"]),
        .executableTarget(name: "wal-fetch", dependencies: ["WALArchive"]),
        .executableTarget(name: "wal-archive", dependencies: ["WALArchive"]),
        .executableTarget(name: "codec-bench", dependencies: ["WALArchive"], path: "bench/codec", exclude: ["run"]),
        .executableTarget(name: "encryption-bench", dependencies: ["WALArchive"], path: "bench/encryption",
                          exclude: ["run", "results.md"]),
        // Test tiers, each runnable alone (`swift test --filter UnitTests`): no server at all;
        // the local S3 server; real PostgreSQL clusters; the documentation's commands.
        .target(name: "TestSupport", dependencies: ["WALArchive"], path: "Tests/TestSupport"),
        .testTarget(name: "UnitTests", dependencies: ["WALArchive", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "S3IntegrationTests", dependencies: ["WALArchive", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["WALArchive", "TestSupport"]),
        // The runbook's and the operations guide's commands, run literally as root in a sandbox
        // with real PostgreSQL clusters in both layouts (minutes).
        .testTarget(name: "DocumentationTests", dependencies: ["TestSupport"]),
        // Long runs, apart so the tiers above stay quick: faults injected on every kind of
        // request, SIGKILL at random moments, a pgbench soak (`scripts/run-tests resilience`).
        .testTarget(name: "ResilienceTests", dependencies: ["WALArchive", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
