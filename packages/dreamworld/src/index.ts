// @synthians/dreamworld: idle-time consolidation of memories and scenario simulation (MCTS), published on ZeroMQ.
export { dreamworldService, createDreamworld } from './service.ts';
export type { DreamworldInstance } from './service.ts';
export { dreamworldSchema, loadDreamworldConfig } from './config.ts';
export type { DreamworldConfig } from './config.ts';
export { Mcts, runSearch, solveExactly, seededRandom } from './mcts.ts';
export type { ActionEstimate, MctsOptions, RunOptions, SearchResult, StoppedBy } from './mcts.ts';
export { compileScenario, ScenarioSchema, LIMITS, evaluate, withExtraWeights } from './scenario.ts';
export type { Scenario, CompiledScenario } from './scenario.ts';
export { extractPreferences, preferenceWeights } from './preferences.ts';
export type { Preference, PreferenceWeight } from './preferences.ts';
export { CHANGE_KINDS, NEEDED_ENDPOINTS, namespaceOf } from './dream.ts';
export type { Change, ChangeKind, CycleResult, CycleStatus } from './dream.ts';
export { TOPICS } from './history.ts';
export type { Topic } from './history.ts';
