// TapedeckScenario
