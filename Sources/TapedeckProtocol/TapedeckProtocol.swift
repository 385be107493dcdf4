// TapedeckProtocol
