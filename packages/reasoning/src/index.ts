// @synthians/reasoning: the memory reasoning agent (port 5596) and its pure reasoning functions.
export { memoryReasoningService } from './service.ts';
export { memoryReasoningSchema, loadMemoryReasoningConfig } from './config.ts';
export type { MemoryReasoningConfig } from './config.ts';
export { summarise, CITATION_OVERLAP } from './summary.ts';
export type { SummaryTurn, SummaryMemory, CitedSentence, SessionSummaryResult } from './summary.ts';
export { findContradictions, skeletons, CONFIDENCE } from './contradictions.ts';
export type { ContradictionPair, ContradictionReason, MemoryText, FindOptions } from './contradictions.ts';
export { extractFacts, mergeFacts, setFact, factKey, emptyProfile, profileView } from './profile.ts';
export type { FactCandidate, ProfileFact, StoredProfile, FactHistoryEntry } from './profile.ts';
export { assembleContext, SHARES, HEADINGS } from './context.ts';
export type {
  AssembledContext,
  ContextPart,
  ContextTurn,
  ContextMemory,
  ContextFact,
  PartKind,
} from './context.ts';
export { patternProblem, ErrorPatternStore, MAX_PATTERN_CHARS } from './error-patterns.ts';
export type { ErrorPattern } from './error-patterns.ts';
export { parseClaims, splitSentences, normalise, lemma, canonicalSubject, findDate } from './language.ts';
export type { Claim } from './language.ts';
export { MemoryCoreClient } from './core-client.ts';
export type { CoreMemory } from './core-client.ts';
