// @synthians/orchestrator: the context cascade engine (store → learn → surprise → boost → recall).
export { orchestratorService } from './service.ts';
export { orchestratorSchema, loadOrchestratorConfig, VARIANTS } from './config.ts';
export type { OrchestratorConfig, Variant } from './config.ts';
export { CascadeEngine, resolveNamespace, STEPS } from './engine.ts';
export type { CycleResult, ProcessInput, StepReport, RelatedMemory, VariantReport } from './engine.ts';
export { selectVariant, surpriseBoost, boostReason, surpriseTrend, TASK_TYPES, KEYWORDS } from './policy.ts';
export type { PolicyInput, VariantChoice, BoostParams, Trend } from './policy.ts';
export { adviseVariant, parseAdvice } from './llm.ts';
export { MemoryCoreClient, NeuralMemoryClient } from './clients.ts';
