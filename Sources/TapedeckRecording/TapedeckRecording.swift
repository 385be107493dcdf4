// TapedeckRecording
