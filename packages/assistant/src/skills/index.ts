// The assistant's offline skills: rule-based intents (regexes over normalised text, number words understood),
// deterministic answers. `createSkills` returns them in precedence order; `matchSkill` finds the first that matches.
import { confirmSkill, forgetSkill, recallSkill, rememberSkill } from './memory.ts';
import { helpSkill, smallTalkSkill } from './conversation.ts';
import { timeSkill } from './time.ts';
import { timerSkill, type TimerService } from './timers.ts';
import type { AgentStatePort, LongTermMemoryPort, Skill, SkillContext } from './types.ts';

export * from './types.ts';
export * from './parse.ts';
export * from './time.ts';
export * from './timers.ts';
export * from './memory.ts';
export * from './conversation.ts';

export interface SkillDeps {
  memory: LongTermMemoryPort;
  state: AgentStatePort;
  timers: TimerService;
  confirmTtlMs?: number;
}

/** Every built-in skill, in precedence order (a pending confirmation first, small talk last). */
export function createSkills(deps: SkillDeps): Skill[] {
  const mem = { memory: deps.memory, state: deps.state, confirmTtlMs: deps.confirmTtlMs };
  const skills: Skill[] = [];
  skills.push(
    confirmSkill(mem) as Skill,
    helpSkill(() => skills) as Skill,
    timeSkill as Skill,
    timerSkill(deps.timers) as Skill,
    recallSkill(mem) as Skill,
    rememberSkill(mem) as Skill,
    forgetSkill(mem) as Skill,
    smallTalkSkill as Skill,
  );
  return skills;
}

export interface SkillMatch {
  skill: Skill;
  match: unknown;
}

export async function matchSkill(
  skills: readonly Skill[],
  ctx: SkillContext,
): Promise<SkillMatch | undefined> {
  for (const skill of skills) {
    const match = await skill.match(ctx);
    if (match !== null && match !== undefined) return { skill, match };
  }
  return undefined;
}
