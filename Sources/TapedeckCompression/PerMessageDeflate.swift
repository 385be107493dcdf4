/// What a server is willing to agree for `permessage-deflate` (RFC 7692): a profile's settings.
public struct DeflateSettings: Sendable, Equatable {
    /// The server starts every message with an empty window (its replies never refer to earlier ones).
    public var serverNoContextTakeover: Bool
    /// The server asks the client to do the same.
    public var clientNoContextTakeover: Bool
    /// The largest window the server compresses with, 9 to 15 (zlib cannot compress with 8).
    public var serverMaxWindowBits: Int
    /// The largest window the server asks the client to compress with, 8 to 15; sent only when the
    /// client's offer says it can honour it.
    public var clientMaxWindowBits: Int
    /// Messages shorter than this many bytes are sent uncompressed.
    public var minimumSize: Int

    public init(
        serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false, serverMaxWindowBits: Int = 15,
        clientMaxWindowBits: Int = 15, minimumSize: Int = 0
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = min(15, max(9, serverMaxWindowBits))
        self.clientMaxWindowBits = min(15, max(8, clientMaxWindowBits))
        self.minimumSize = max(0, minimumSize)
    }

    /// The first offer in `offers` this server accepts, as the agreement both sides will use, or
    /// `nil` (the connection goes uncompressed). Offers with unknown, repeated or invalid parameters
    /// are declined, as RFC 7692 section 5 requires, and so is a window of 8 bits for the server.
    public func accept(_ offers: [ExtensionOffer]) -> DeflateAgreement? {
        for offer in offers where offer.name == DeflateAgreement.extensionName {
            guard let requested = DeflateAgreement.Parameters(offer) else { continue }
            var agreement = DeflateAgreement(
                serverNoContextTakeover: serverNoContextTakeover || requested.serverNoContextTakeover,
                clientNoContextTakeover: clientNoContextTakeover || requested.clientNoContextTakeover,
                serverMaxWindowBits: min(serverMaxWindowBits, requested.serverMaxWindowBits ?? 15),
                clientMaxWindowBits: 15, minimumSize: minimumSize)
            guard agreement.serverMaxWindowBits >= 9 else { continue }
            agreement.announcesServerWindow = requested.serverMaxWindowBits != nil || serverMaxWindowBits < 15
            if requested.clientMaxWindowBits != nil {
                // The client may be asked for a smaller window only when it offered the parameter.
                let bits = min(clientMaxWindowBits, requested.clientMaxWindowBits.flatMap { $0 } ?? 15)
                agreement.clientMaxWindowBits = bits
                agreement.announcesClientWindow = bits < 15 || requested.clientMaxWindowBits.flatMap { $0 } != nil
            }
            return agreement
        }
        return nil
    }
}

/// The `permessage-deflate` parameters both ends of a connection agreed on.
public struct DeflateAgreement: Sendable, Equatable {
    /// The extension's name in `Sec-WebSocket-Extensions`.
    public static let extensionName = "permessage-deflate"

    public var serverNoContextTakeover: Bool
    public var clientNoContextTakeover: Bool
    /// The server's compression window (bits).
    public var serverMaxWindowBits: Int
    /// The client's compression window (bits).
    public var clientMaxWindowBits: Int
    /// The sender's own threshold (not negotiated): shorter messages go uncompressed.
    public var minimumSize: Int
    var announcesServerWindow = false
    var announcesClientWindow = false

    public init(
        serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false, serverMaxWindowBits: Int = 15,
        clientMaxWindowBits: Int = 15, minimumSize: Int = 0
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.minimumSize = minimumSize
    }

    /// The agreement a server's response states (the client's side of the negotiation, e.g. the
    /// recording proxy's upstream leg): `nil` when the response holds no `permessage-deflate`, or
    /// one whose parameters are invalid.
    public init?(response offers: [ExtensionOffer]) {
        guard let offer = offers.first(where: { $0.name == Self.extensionName }), let p = Parameters(offer),
            p.clientMaxWindowBits.map({ $0 != nil }) ?? true
        else { return nil }
        self.init(
            serverNoContextTakeover: p.serverNoContextTakeover, clientNoContextTakeover: p.clientNoContextTakeover,
            serverMaxWindowBits: p.serverMaxWindowBits ?? 15, clientMaxWindowBits: p.clientMaxWindowBits.flatMap { $0 } ?? 15)
        announcesServerWindow = p.serverMaxWindowBits != nil
        announcesClientWindow = p.clientMaxWindowBits != nil
    }

    /// The server's `Sec-WebSocket-Extensions` response value.
    public var headerValue: String {
        var offer = ExtensionOffer(name: Self.extensionName)
        if serverNoContextTakeover { offer.parameters.append(("server_no_context_takeover", nil)) }
        if clientNoContextTakeover { offer.parameters.append(("client_no_context_takeover", nil)) }
        if announcesServerWindow { offer.parameters.append(("server_max_window_bits", "\(serverMaxWindowBits)")) }
        if announcesClientWindow { offer.parameters.append(("client_max_window_bits", "\(clientMaxWindowBits)")) }
        return offer.headerValue
    }

    /// What one offer or response asks for, checked against RFC 7692 section 7.1.
    struct Parameters {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        /// `.some(nil)`: the parameter without a value (the client can honour a limit).
        var clientMaxWindowBits: Int??

        init?(_ offer: ExtensionOffer) {
            var seen: Set<String> = []
            for (name, value) in offer.parameters {
                guard seen.insert(name).inserted else { return nil }
                switch name {
                case "server_no_context_takeover":
                    guard value == nil else { return nil }
                    serverNoContextTakeover = true
                case "client_no_context_takeover":
                    guard value == nil else { return nil }
                    clientNoContextTakeover = true
                case "server_max_window_bits":
                    guard let bits = value.flatMap(Self.windowBits) else { return nil }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    if let value {
                        guard let bits = Self.windowBits(value) else { return nil }
                        clientMaxWindowBits = .some(bits)
                    } else {
                        clientMaxWindowBits = .some(nil)
                    }
                default:
                    return nil
                }
            }
        }

        /// 8 to 15, written without leading zeros.
        static func windowBits(_ text: String) -> Int? {
            guard let n = Int(text), (8...15).contains(n), String(n) == text else { return nil }
            return n
        }
    }
}
