// Tests for TapedeckReplay.
