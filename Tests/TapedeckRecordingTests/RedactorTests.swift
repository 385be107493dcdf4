import Foundation
import TapedeckCore
import Testing
@testable import TapedeckRecording

@Suite("Redaction")
struct RedactorTests {
    @Test("a JSON key checked as UTF-8 bytes is a secret exactly when its String is")
    func bytesAndStringsAgree() {
        var custom = Redactor()
        custom.secretNames.insert("averyveryverylongsecretnamethatislong")
        for r in [Redactor(), custom] {
            let names = [
                "token", "Refresh-Token", "refresh_token", "refreshToken", "X-Api-Key", "x_token", "X-", "x", "", "tokens", "TOKEN",
                "key", "k", "proxy_authorization", "ProxyAuthorization", "proxy-authorizations", "set-cookie", "Ключ", "sessİon",
                "averyveryverylongsecretnamethatislong", "averyveryverylongsecretnamethatislongg", "a-very_very-very-long-secret-name-that-is-long",
            ]
            for name in names {
                let bytes = Array(name.utf8)
                let viaBytes = bytes.withUnsafeBufferPointer { r.isSecret(utf8: $0) }
                #expect(viaBytes == r.isSecret(name), "\(name)")
            }
        }
    }

    @Test("no secret reaches the file: query, headers, cookies, payload keys and --redact paths")
    func nothingSecretOnDisk() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("secrets.sqlite")
        var redactor = Redactor()
        redactor.payloadPaths.append(try JSONPath(parsing: "$.data.email"))
        redactor.payloadPaths.append(try JSONPath(parsing: "$.users[*].ssn"))
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "s", upstream: "ws://h:1/ws?apiKey=UPSTREAMKEY111"),
            configuration: RecordingConfiguration(redaction: redactor))
        let conn = try await writer.beginConnection(
            ConnectionInfo(
                path: "/ws", query: "room=1&token=QUERYTOKEN222&api_key=QUERYKEY333",
                requestHeaders: [
                    HeaderField("Authorization", "Bearer HEADERJWT444"), HeaderField("Cookie", "session=COOKIE555; a=COOKIE556"),
                    HeaderField("X-Api-Key", "APIKEYHDR666"), HeaderField("User-Agent", "test-agent"),
                ],
                responseHeaders: [HeaderField("Set-Cookie", "sid=SETCOOKIE777; Path=/; HttpOnly")]))
        let messages = [
            #"{"type":"auth","token":"PAYLOADTOKEN888","data":{"email":"EMAIL999@example.com","name":"Ann"}}"#,
            #"{"users":[{"ssn":"SSN-AAA","id":1},{"ssn":"SSN-BBB","id":2}],"apiKey":"PAYLOADKEYCCC"}"#,
        ]
        for m in messages {
            try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .text, payload: text(m)))
        }
        // A secret split across the fragments of one message.
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .text, fin: false, payload: text(#"{"password":"FRAG"#)))
        try await writer.append(RecordedFrame(connection: conn, direction: .serverToClient, opcode: .continuation, payload: text(#"SECRETDDD","ok":true}"#)))
        try await writer.endConnection(conn, close: ConnectionClose(clientCode: 1000))
        try await writer.finish()

        let bytes = try dir.allBytes()
        for secret in [
            "UPSTREAMKEY111", "QUERYTOKEN222", "QUERYKEY333", "HEADERJWT444", "COOKIE555", "COOKIE556", "APIKEYHDR666",
            "SETCOOKIE777", "PAYLOADTOKEN888", "EMAIL999", "SSN-AAA", "SSN-BBB", "PAYLOADKEYCCC", "FRAGSECRETDDD", "SECRETDDD",
        ] {
            #expect(!bytes.contains(secret), "\(secret) reached the file")
        }
        #expect(bytes.contains("test-agent"), "other headers are kept")

        // Redaction keeps the shape.
        let reader = try RecordingReader(path: path)
        let c = try #require(reader.connections().first)
        #expect(c.info.query == "room=1&token=[REDACTED]&api_key=[REDACTED]")
        #expect(c.info.requestHeaders[0] == HeaderField("Authorization", "Bearer [REDACTED]"))
        #expect(c.info.requestHeaders[1] == HeaderField("Cookie", "session=[REDACTED]; a=[REDACTED]"))
        #expect(c.info.responseHeaders[0] == HeaderField("Set-Cookie", "sid=[REDACTED]; Path=/; HttpOnly"))
        let frames = try reader.frames()
        #expect(
            frames[0].frame.decoded
                == ["type": "auth", "token": "[REDACTED]", "data": ["email": "[REDACTED]", "name": "Ann"]])
        #expect(String(decoding: frames[1].frame.payload, as: UTF8.self)
            == #"{"users":[{"ssn":"[REDACTED]","id":1},{"ssn":"[REDACTED]","id":2}],"apiKey":"[REDACTED]"}"#)
        #expect(frames.allSatisfy { $0.redacted })
        #expect(frames[3].frame.decoded == ["password": "[REDACTED]", "ok": true])
    }

    @Test("JSON paths: keys, indexes, wildcards and any depth")
    func jsonPaths() throws {
        var v: Value = ["a": ["b": [["c": 1], ["c": 2]]], "c": 3]
        #expect(try JSONPath(parsing: "$.a.b[1].c").replace(in: &v, with: "x"))
        #expect(v == ["a": ["b": [["c": 1], ["c": "x"]]], "c": 3])
        #expect(try JSONPath(parsing: "$..c").replace(in: &v, with: "y"))
        #expect(v == ["a": ["b": [["c": "y"], ["c": "y"]]], "c": "y"])
        let missing = try JSONPath(parsing: "$.missing.key")
        #expect(!missing.replace(in: &v, with: "z"))
        #expect(try JSONPath(parsing: "$['a']['b'][*]").replace(in: &v, with: 0))
        #expect(v == ["a": ["b": [0, 0]], "c": "y"])
        #expect(throws: JSONPathError.self) { try JSONPath(parsing: "a.b") }
        #expect(throws: JSONPathError.self) { try JSONPath(parsing: "$.a[") }
    }

    @Test("query redaction keeps names, order and non-secret values")
    func query() {
        let r = Redactor()
        #expect(r.redactQuery("a=1&Token=x&key=y&b") == "a=1&Token=[REDACTED]&key=[REDACTED]&b")
        #expect(r.redactLogText("/ws?access_token=abc&x=1 HTTP/1.1") == "/ws?access_token=[REDACTED]&x=1 HTTP/1.1")
    }

    @Test("one case-insensitive list of secret names for query parameters, headers, JSON keys and close reasons")
    func oneListEverywhere() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("names.sqlite")
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "n"))
        let conn = try await writer.beginConnection(
            ConnectionInfo(
                path: "/ws", query: "Refresh_Token=Q1SECRET&sessionToken=Q2SECRET&page=2",
                requestHeaders: [HeaderField("X-Token", "H1SECRET"), HeaderField("X-Refresh-Token", "H2SECRET"), HeaderField("Accept", "keep-me")]))
        let payload = #"{"refresh_token":"P1SECRET","client_secret":"P2SECRET","id_token":"P3SECRET","authorization":"P4SECRET","#
            + #""sessionToken":"P5SECRET","nested":[{"Password":"P6SECRET","name":"keep-me"}]}"#
        try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .text, payload: text(payload)))
        let reason = "token=C1SECRET expired"
        try await writer.append(RecordedFrame(connection: conn, direction: .clientToServer, opcode: .close, payload: [0x0F, 0xA0] + text(reason)))
        try await writer.endConnection(conn, close: ConnectionClose(clientCode: 4000, clientReason: reason, serverCode: 4001, serverReason: "bad Bearer C2SECRET"))
        try await writer.finish()

        let bytes = try dir.allBytes()
        for secret in ["Q1SECRET", "Q2SECRET", "H1SECRET", "H2SECRET", "P1SECRET", "P2SECRET", "P3SECRET", "P4SECRET", "P5SECRET", "P6SECRET", "C1SECRET", "C2SECRET"] {
            #expect(!bytes.contains(secret), "\(secret) reached the file")
        }
        let reader = try RecordingReader(path: path)
        let c = try #require(reader.connections().first)
        #expect(c.info.query == "Refresh_Token=[REDACTED]&sessionToken=[REDACTED]&page=2")
        #expect(c.info.requestHeaders[2] == HeaderField("Accept", "keep-me"))
        #expect(c.close.clientReason == "token=[REDACTED] expired")
        #expect(c.close.serverReason == "bad Bearer [REDACTED]")
        let frames = try reader.frames()
        #expect(frames[0].frame.decoded?["nested"] == [["Password": "[REDACTED]", "name": "keep-me"]])
        #expect(frames[1].frame.payload == [0x0F, 0xA0] + text("token=[REDACTED] expired"))
    }

    @Test("names compare without case, '-', '_' or a leading 'x-'")
    func names() {
        let r = Redactor()
        for name in ["TOKEN", "Refresh-Token", "refreshToken", "X-Api-Key", "apiKey", "CLIENT_SECRET", "Set-Cookie"] {
            #expect(r.isSecret(name), "\(name)")
        }
        for name in ["name", "tokens_used", "Sec-WebSocket-Key", "monkey", "x"] {
            #expect(!r.isSecret(name), "\(name)")
        }
        #expect(r.redactText(#"{"token":"abc","a":1}"#) == #"{"token":"[REDACTED]","a":1}"#)
        #expect(r.redactText("token expired") == "token expired")
        #expect(r.redactText("password: hunter2, retry") == "password: [REDACTED], retry")
    }
}
