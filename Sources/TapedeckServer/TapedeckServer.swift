// TapedeckServer
