// @synthians/orchestrator: the context cascade engine (store → learn → surprise → boost → recall).
export {};
