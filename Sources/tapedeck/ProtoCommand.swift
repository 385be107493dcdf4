import ArgumentParser
import Foundation
import TapedeckCore
import TapedeckProtobuf

/// `tapedeck proto decode|encode`: converts between binary protobuf and the proto3 JSON
/// mapping with a descriptor set, through the same codec the simulator uses.
///
///     tapedeck proto decode --descriptor protos/workitems.pb --type workitems.v1.WebSocketMessage < frame.bin
///     tapedeck proto encode --descriptor protos/workitems.pb --type workitems.v1.WebSocketMessage < msg.json > frame.bin
///
/// With `--jsonl`, many messages are converted in one run: `decode` reads one hex frame per
/// line (an empty line is an empty frame) and writes `{"json": VALUE}` or `{"error": "..."}` per line; `encode` reads one JSON
/// value per line and writes `{"hex": "..."}` or `{"error": "..."}` per line.
struct ProtoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proto",
        abstract: "Convert protobuf messages between binary and JSON with a descriptor set.",
        subcommands: [Decode.self, Encode.self]
    )

    struct Schema: ParsableArguments {
        @Option(name: .long, help: "A descriptor set (protoc --include_imports --descriptor_set_out).")
        var descriptor: String

        @Option(name: .long, help: "The fully qualified message type, e.g. workitems.v1.WebSocketMessage.")
        var type: String

        @Option(name: .long, help: "Read from this file instead of standard input.")
        var input: String?

        @Flag(name: .long, help: "Binary data is hex text (input of decode, output of encode).")
        var hex = false

        @Flag(name: .long, help: "One message per line; errors are reported per line.")
        var jsonl = false

        func codec(options: ProtobufCodec.Options = .init()) throws -> ProtobufCodec {
            let pool = try DescriptorPool(contentsOf: descriptor)
            return try ProtobufCodec(pool: pool, messageType: type, options: options)
        }

        func readInput() throws -> [UInt8] {
            if let input {
                guard let data = FileManager.default.contents(atPath: input) else {
                    throw ValidationError("cannot read \(input)")
                }
                return [UInt8](data)
            }
            return [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Binary protobuf -> JSON.")

        @OptionGroup var schema: Schema

        @Flag(name: .long, help: "Indent the JSON output.")
        var pretty = false

        @Flag(name: .long, help: "Key fields by their .proto names instead of JSON names.")
        var protoNames = false

        func run() throws {
            let codec = try schema.codec(options: .init(useProtoFieldNames: protoNames))
            let input = try schema.readInput()
            if schema.jsonl {
                var out = ""
                for line in ProtoCommand.lines(input) {
                    let result: Value
                    if let bytes = ProtoCommand.hexDecode(line) {
                        do { result = ["json": try codec.decode(bytes)] } catch { result = ["error": .string(error.description)] }
                    } else {
                        result = ["error": "invalid hex"]
                    }
                    out += result.jsonString + "\n"
                }
                FileHandle.standardOutput.write(Data(out.utf8))
                return
            }
            let bytes: [UInt8]
            if schema.hex {
                guard let decoded = ProtoCommand.hexDecode(input) else { throw ValidationError("invalid hex input") }
                bytes = decoded
            } else {
                bytes = input
            }
            let value = try codec.decode(bytes)
            print(pretty ? value.prettyJSONString : value.jsonString)
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "JSON -> binary protobuf.")

        @OptionGroup var schema: Schema

        @Flag(name: .long, help: "Skip object keys that name no field instead of failing.")
        var ignoreUnknownFields = false

        func run() throws {
            let codec = try schema.codec(options: .init(ignoreUnknownFields: ignoreUnknownFields))
            let input = try schema.readInput()
            if schema.jsonl {
                var out = ""
                for line in ProtoCommand.lines(input) {
                    let result: Value
                    do {
                        let value = try Value(jsonBytes: line)
                        do {
                            result = ["hex": .string(ProtoCommand.hexEncode(try codec.encode(value)))]
                        } catch {
                            result = ["error": .string(error.description)]
                        }
                    } catch {
                        result = ["error": .string(error.description)]
                    }
                    out += result.jsonString + "\n"
                }
                FileHandle.standardOutput.write(Data(out.utf8))
                return
            }
            let bytes = try codec.encode(try Value(jsonBytes: input))
            if schema.hex {
                print(ProtoCommand.hexEncode(bytes))
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    /// The lines, without their terminators. An empty line is an empty frame (a message with
    /// every field unset); a final newline does not start another line.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    static func hexEncode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex text to bytes; whitespace is ignored; nil on anything else.
    static func hexDecode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): continue
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return high == nil ? out : nil
    }
}
