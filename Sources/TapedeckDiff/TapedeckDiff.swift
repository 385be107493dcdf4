// TapedeckDiff: aligns two recordings connection by connection and message by message, compares
// them structurally under ignore rules, and reports the differences (text, JSON, JUnit, HTML).
