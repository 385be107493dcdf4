// Tests for TapedeckDiff.
