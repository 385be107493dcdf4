// TapedeckProtobuf
