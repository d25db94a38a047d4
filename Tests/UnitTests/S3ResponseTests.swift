import XCTest
@testable import WALArchive

/// How the S3 client reads what servers answer, including what Ceph RGW 16.2 answers
/// differently from AWS (the same differences against a real RGW: S3ServerDifferencesTests).
final class S3ResponseTests: XCTestCase {
    private func response(_ status: Int, headers: [String: String] = [:], _ body: String = "") -> CurlClient.Response {
        CurlClient.Response(head: .init(status: status, headers: headers), body: Array(body.utf8))
    }

    /// RGW lists `CommonPrefixes` before `Contents` (AWS: after); the order must not matter.
    func testListingReadsCommonPrefixesListedBeforeContents() throws {
        let page = try ListObjectsPage(xml: Array("""
            <?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>b</Name><Prefix>p/</Prefix><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>\
            <NextContinuationToken>t</NextContinuationToken>\
            <CommonPrefixes><Prefix>p/2026-01-01/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p/2026-01-02/</Prefix></CommonPrefixes>\
            <Contents><Key>p/a b+c</Key><Size>1</Size></Contents><KeyCount>3</KeyCount></ListBucketResult>
            """.utf8))
        XCTAssertEqual(page.commonPrefixes, ["p/2026-01-01/", "p/2026-01-02/"])
        XCTAssertEqual(page.keys, ["p/a b+c"])
        XCTAssertTrue(page.isTruncated)
        XCTAssertEqual(page.nextContinuationToken, "t")
    }

    /// RGW sends `<Message></Message>`; HEAD answers have no body and sometimes no request id.
    func testRefusalMessagesLeaveOutWhatTheServerLeftEmpty() {
        XCTAssertEqual(StorageError.rejected(status: 400, code: "InvalidArgument", message: "", requestID: "").message,
                       "storage refused the request: HTTP 400 InvalidArgument")
        XCTAssertEqual(StorageError.rejected(status: 400, code: "InvalidArgument", message: "", requestID: "tx1").message,
                       "storage refused the request: HTTP 400 InvalidArgument (request id tx1)")
        XCTAssertEqual(StorageError.rejected(status: 409, code: "HTTP409", message: "", requestID: "").message,
                       "storage refused the request: HTTP 409")
        XCTAssertEqual(StorageError.rejected(status: 400, code: "X", message: "why", requestID: "r").message,
                       "storage refused the request: HTTP 400 X: why (request id r)")
    }

    func testErrorBodiesGiveRegionServerTimeAndEndpoint() {
        let body = S3ErrorBody(xml: Array("""
            <Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>\
            <Region>eu-west-1</Region><ServerTime>2026-11-28T06:45:52Z</ServerTime><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint>\
            <RequestId>R</RequestId></Error>
            """.utf8))
        XCTAssertEqual(body.region, "eu-west-1")
        XCTAssertEqual(body.serverTime, "2026-11-28T06:45:52Z")
        XCTAssertEqual(body.endpoint, "b.s3.eu-west-1.amazonaws.com")
    }

    func testServerTimesAreReadFromTheDateHeaderOrTheBody() {
        let expected = UTCTime(secondsSinceEpoch: 1_795_848_352)  // 2026-11-28T06:45:52Z
        XCTAssertEqual(expected.basicISO8601, "20261128T064552Z")
        XCTAssertEqual(ServerClock.time(httpDate: "Sat, 28 Nov 2026 06:45:52 GMT"), expected)
        XCTAssertEqual(ServerClock.time(iso8601: "2026-11-28T06:45:52Z"), expected)
        XCTAssertEqual(ServerClock.time(iso8601: "2026-11-28T06:45:52.123Z"), expected)
        XCTAssertEqual(ServerClock.time(httpDate: "Thu, 01 Jan 1970 00:00:00 GMT"), UTCTime(secondsSinceEpoch: 0))
        XCTAssertEqual(ServerClock.time(httpDate: "Tue, 29 Feb 2028 23:59:59 GMT"), UTCTime(secondsSinceEpoch: 1_835_481_599))
        for bad in ["", "yesterday", "Sat, 28 Foo 2026 06:45:52 GMT", "Sat, 32 Nov 2026 06:45:52 GMT",
                    "Sat, 28 Nov 2026 25:45:52 GMT", "Sat, 28 Nov 2026 06:45 GMT", "Sat, 28 Nov 2026 06:45:52 CET"] {
            XCTAssertNil(ServerClock.time(httpDate: bad), bad)
        }
        XCTAssertNil(ServerClock.time(iso8601: "2026-11-28 06:45:52"))
    }

    /// As the AWS SDKs do: a refusal naming skew, or any 401/403 whose `Date` is more than four
    /// minutes off, teaches the offset; other answers teach nothing.
    func testTheClockLearnsOnlyFromRefusalsThatShowSkew() {
        let signedAt = UTCTime(secondsSinceEpoch: 1_795_848_352 - 7_200)
        let serverDate = ["date": "Sat, 28 Nov 2026 06:45:52 GMT"]
        let skewed = "<Error><Code>RequestTimeTooSkewed</Code><Message></Message></Error>"
        var clock = ServerClock(localNow: { signedAt })

        XCTAssertFalse(clock.learn(from: response(200, headers: serverDate), signedAt: signedAt))
        XCTAssertFalse(clock.learn(from: response(404, headers: serverDate), signedAt: signedAt))
        XCTAssertFalse(clock.learn(from: response(403, skewed), signedAt: signedAt), "no time given: nothing to learn")
        XCTAssertEqual(clock.offsetSeconds, 0)

        XCTAssertTrue(clock.learn(from: response(403, headers: serverDate, skewed), signedAt: signedAt))
        XCTAssertEqual(clock.offsetSeconds, 7_200)
        XCTAssertEqual(clock.now(), UTCTime(secondsSinceEpoch: 1_795_848_352))

        var bodyless = ServerClock(localNow: { signedAt })
        XCTAssertTrue(bodyless.learn(from: response(403, headers: serverDate), signedAt: signedAt), "HEAD: no body")
        XCTAssertEqual(bodyless.offsetSeconds, 7_200)

        var fromBody = ServerClock(localNow: { signedAt })
        XCTAssertTrue(fromBody.learn(from: response(403, "<Error><Code>RequestTimeTooSkewed</Code>"
                                                        + "<ServerTime>2026-11-28T06:45:52Z</ServerTime></Error>"),
                                     signedAt: signedAt))
        XCTAssertEqual(fromBody.offsetSeconds, 7_200)

        let nearlyRight = UTCTime(secondsSinceEpoch: 1_795_848_352 - 30)
        var credentials = ServerClock(localNow: { nearlyRight })
        XCTAssertFalse(credentials.learn(from: response(403, headers: serverDate,
                                                        "<Error><Code>SignatureDoesNotMatch</Code></Error>"),
                                         signedAt: nearlyRight), "30 s off: a refusal about credentials")
        XCTAssertEqual(credentials.offsetSeconds, 0)
    }

    /// The settings named in messages are the ones Configuration reads.
    func testMessagesNameTheSettingsAsConfigurationReadsThem() {
        for (hint, setting) in [(S3Settings.regionSettingHint, ConfigurationSetting.region),
                                (S3Settings.storageClassSettingHint, ConfigurationSetting.storageClass)] {
            XCTAssertEqual(hint, "`\(setting.fileKey)` (\(setting.environmentNames[0]), --\(setting.optionName))")
        }
    }
}
