import TapedeckCore
import TapedeckScenario
import Yams
import OrderedCollections

extension ProfileReader {
    /// `token: {claims: {name: template}, options: {name: {claim, default, list, help}}}`.
    func tokenSpec(_ n: Node) -> TokenSpec {
        let r = reader
        var spec = TokenSpec()
        guard let pairs = r.mapping(n, what: "'token'", allowed: ["claims", "options"]) else { return spec }
        for (key, _, v) in pairs {
            if key == "claims" {
                for (name, _, value) in r.mapping(v, what: "'token.claims' (claim name -> value)") ?? [] {
                    if let t = r.template(value, names: ["user"]) { spec.claims[name] = t }
                }
                continue
            }
            for (name, keyNode, value) in r.mapping(v, what: "'token.options' (option name -> {claim, default, list, help})") ?? [] {
                guard name.first?.isLetter == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    r.error("'\(name)' cannot be an option name (letters, digits, '-' and '_', starting with a letter)", at: keyNode)
                    continue
                }
                if ["user", "sub", "claim", "expires", "secret", "verbose", "profile", "help"].contains(name) {
                    r.error("'--\(name)' is an option of tapedeck token itself; choose another name", at: keyNode)
                    continue
                }
                guard let o = r.mapping(value, what: "a token option", allowed: ["claim", "default", "list", "help"]) else { continue }
                let ok = Dictionary(o.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                guard let cn = ok["claim"], let claim = r.string(cn, what: "'claim' (the claim the option sets)") else {
                    r.error("a token option needs 'claim' (the claim it sets)", at: value)
                    continue
                }
                var option = TokenSpec.Option(claim: claim)
                if let d = ok["default"] { option.defaultValue = r.text(d, what: "'default'") }
                if let l = ok["list"] { option.list = r.bool(l, what: "'list'") ?? false }
                if let h = ok["help"] { option.help = r.string(h, what: "'help'") }
                spec.options[name] = option
            }
        }
        return spec
    }
}
