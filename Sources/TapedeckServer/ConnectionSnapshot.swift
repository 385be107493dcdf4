import TapedeckCore

/// One connection as the control API shows it, read on the connection's event loop.
struct ConnectionSnapshot: Sendable {
    var id: Int
    var path: String
    var profile: String
    var peer: String
    /// What the profile derived at the upgrade (`conn`), without the token's claims.
    var identity: Value
    var subscriptions: [Value]
    var queueDepth: Int
    var dropped: Int
    var messagesSent: Int
    var messagesReceived: Int
    var bytesSent: Int
    var eventsAccepted: Int
    /// Unix seconds.
    var connectedAt: Double
    /// A stall of writing (frames wait in the queue).
    var stalled: Bool
    /// A stall of reading (the client's bytes wait in the TCP buffers).
    var readStalled: Bool

    /// `conn.user` and `conn.tenant`, as text, for selectors.
    var user: String? { identity["user"].flatMap { $0.isNull ? nil : $0.plainText } }
    var tenant: String? { identity["tenant"].flatMap { $0.isNull ? nil : $0.plainText } }

    var value: Value {
        [
            "id": .int(id), "path": .string(path), "profile": .string(profile), "peer": .string(peer),
            "user": user.map(Value.string) ?? .null, "tenant": tenant.map(Value.string) ?? .null, "identity": identity,
            "subscriptions": .array(subscriptions), "queue_depth": .int(queueDepth), "dropped": .int(dropped),
            "messages_sent": .int(messagesSent), "messages_received": .int(messagesReceived), "bytes_sent": .int(bytesSent),
            "events_delivered": .int(eventsAccepted), "connected_since": .string(Timestamp.iso8601(connectedAt)), "stalled": .bool(stalled),
            "read_stalled": .bool(readStalled),
        ]
    }
}
