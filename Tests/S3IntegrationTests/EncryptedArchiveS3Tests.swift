import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// Client-side encryption through the built tools, on the local S3 server (moto or RGW).
final class EncryptedArchiveS3Tests: EncryptedArchiveTestCase {
    private func s3Environment(_ label: String) throws -> [String: String] {
        let server = try LocalS3Server.shared()
        return ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(String(server.uniquePrefix(label).dropLast()))",
                "WAL_ARCHIVE_ENDPOINT": server.endpoint, "AWS_REGION": server.region,
                "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey]
    }

    func testAnEncryptedArchiveStoresCiphertextAndRestoresTheExactSegmentOnS3() throws {
        try encryptedRoundTrip(try s3Environment("encrypted"))
    }

    func testMissingWrongAndDamagedKeysOrObjectsAreRefusedWithoutLeakingTheKeyOnS3() throws {
        try refusals(encrypted: try s3Environment("encrypted-refusals"), plain: try s3Environment("plain"))
    }

    func testKeyRotationAddsAKeyAndOlderObjectsReadThroughTheDecryptionKeysOnS3() throws {
        try rotation(try s3Environment("rotation"))
    }
}
