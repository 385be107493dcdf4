// TapedeckReplay: serves a recording back to live clients, or plays it as a client against a server.
