import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, openDb, SessionStore } from '@synthians/session-memory';
import { agentStatePort, sessionPortFromStore } from '../coordinator/sessions.ts';
import {
  createSkills,
  matchSkill,
  normalize,
  parseClockTime,
  parseDuration,
  parseNumber,
  TimerService,
  timeSkill,
  type LongTermMemoryPort,
  type SkillContext,
  type TimerFired,
} from './index.ts';

// 2025-03-04 14:05 UTC = 15:05 in Berlin (a Tuesday)
const NOW = Date.UTC(2025, 2, 4, 14, 5, 0);
const ctx = (text: string, now = NOW, timeZone = 'Europe/Berlin'): SkillContext => ({
  text,
  norm: normalize(text),
  userId: 'u1',
  sessionId: 's1',
  now,
  timeZone,
});

// One real session store (PGlite in memory) for the file; each test uses its own user.
let shared: Promise<SessionStore> | undefined;
async function realState() {
  shared ??= (async () => {
    const db = await openDb({ path: `memory://skills-test` });
    await migrate(db);
    return new SessionStore(db);
  })();
  const store = await shared;
  return { state: agentStatePort(sessionPortFromStore(store)), close: async () => {} };
}
after(async () => (await shared)?.db.close());

const noMemory: LongTermMemoryPort = {
  remember: async () => ({ id: 'x' }),
  find: async () => [],
  recent: async () => [],
  delete: async () => true,
};

test('numbers, durations and clock times', () => {
  assert.equal(parseNumber('five'), 5);
  assert.equal(parseNumber('twenty five'), 25);
  assert.equal(parseNumber('a hundred and ten'), 110);
  assert.equal(parseNumber('banana'), undefined);
  assert.equal(parseDuration(normalize('Set a timer for FIVE minutes!'))?.ms, 300_000);
  assert.equal(parseDuration(normalize('twenty-five minutes and 30 seconds'))?.ms, 1_530_000);
  assert.equal(parseDuration(normalize('in an hour and a half'))?.ms, 5_400_000);
  assert.equal(parseDuration(normalize('half an hour'))?.ms, 1_800_000);
  assert.equal(parseDuration(normalize('1 hour 20 min'))?.ms, 4_800_000);
  const five = parseClockTime(normalize('remind me at 5 p.m.'), NOW, 'Europe/Berlin');
  assert.equal(five?.epochMs, Date.UTC(2025, 2, 4, 16, 0), '5 pm Berlin = 16:00 UTC');
  assert.equal(five?.spoken, '5:00 PM');
  const nine = parseClockTime(normalize('tomorrow at nine thirty am'), NOW, 'Europe/Berlin');
  assert.equal(nine?.epochMs, Date.UTC(2025, 2, 5, 8, 30));
  const three = parseClockTime(normalize('at 3'), NOW, 'Europe/Berlin');
  assert.equal(three?.epochMs, Date.UTC(2025, 2, 5, 2, 0), '3 without am/pm after 15:05 is 3 am tomorrow');
});

test('time and date in the configured time zone, with a fixed clock', async () => {
  for (const [text, want] of [
    ['What time is it?', "It's 3:05 PM."],
    ["what's the TIME", "It's 3:05 PM."],
    ['What is the date today?', 'Today is Tuesday, March 4, 2025.'],
    ['what day is it', 'Today is Tuesday.'],
  ] as const) {
    const m = await timeSkill.match(ctx(text));
    assert.ok(m, `"${text}" is a time/date question`);
    assert.equal((await timeSkill.run(m, ctx(text))).reply, want, text);
  }
  const ny = await timeSkill.run('time', ctx('time', NOW, 'America/New_York'));
  assert.equal(ny.reply, "It's 9:05 AM.");
  assert.equal(await timeSkill.match(ctx('set a timer for one minute')), null);
});

test('intent matching is robust to case and punctuation, and picks the right skill', async () => {
  const { state, close } = await realState();
  const timers = new TimerService({ state, onFire: () => {} });
  const skills = createSkills({ memory: noMemory, state, timers });
  const cases: [string, string | undefined][] = [
    ['Hello!', 'small_talk'],
    ['THANK YOU.', 'small_talk'],
    ['help', 'help'],
    ['What can you do?', 'help'],
    ['What time is it?', 'time'],
    ['Set a timer for five minutes.', 'timers'],
    ['5 minute timer please', 'timers'],
    ['Remind me to call Ana at 5 pm!', 'timers'],
    ['In 10 minutes remind me to stretch', 'timers'],
    ['cancel the timer', 'timers'],
    ['What timers do I have?', 'timers'],
    ['Remember that my sister is called Ana.', 'remember'],
    ['What do you remember about my sister?', 'recall'],
    ['Forget my sister', 'forget'],
    ['Why is the sky blue?', undefined],
  ];
  for (const [text, want] of cases) {
    const m = await matchSkill(skills, ctx(text));
    assert.equal(m?.skill.name, want, `"${text}" → ${want}`);
  }
  await timers.stop();
  await close();
});

test('timers and reminders: set, list, fire (persisted in agent state), cancel', async () => {
  const { state, close } = await realState();
  const fired: TimerFired[] = [];
  const timers = new TimerService({ state, onFire: (e) => void fired.push(e) });
  const skills = createSkills({ memory: noMemory, state, timers });
  const say = async (text: string) => {
    const c = ctx(text, Date.now(), 'UTC');
    const m = await matchSkill(skills, c);
    assert.ok(m, `"${text}" matches a skill`);
    return m.skill.run(m.match, c);
  };
  assert.equal((await say('Set a timer for five minutes')).reply, 'Timer set for 5 minutes.');
  assert.match(
    (await say('remind me to call Ana in 10 minutes')).reply,
    /^Okay, I'll remind you to call Ana in 10 minutes\.$/,
  );
  assert.equal((await say('set a timer for 1 second')).reply, 'Timer set for 1 second.');
  const listed = await say('what timers and reminders do I have?');
  assert.match(
    listed.reply,
    /^You have 3: a 1 second timer with .* left, a 5 minute timer with .* left and a reminder to call Ana (?:tomorrow )?at /,
  );
  assert.equal((await state.list('timers', { prefix: 'u1:' })).length, 3, 'persisted in agent state');

  await new Promise((r) => setTimeout(r, 1300));
  await timers.idle();
  assert.equal(fired.length, 1, 'the one-second timer fired');
  assert.equal(fired[0]?.message, 'Your 1 second timer is done.');
  assert.equal(fired[0]?.timer.session_id, 's1');
  assert.equal((await timers.list('u1')).length, 2, 'a fired timer is gone');

  assert.match((await say('cancel the timer')).reply, /^Cancelled a 5 minute timer\.$/);
  assert.match((await say('cancel my reminder')).reply, /^Cancelled a reminder to call Ana/);
  assert.equal((await say('list my timers')).reply, 'You have no timers.');
  assert.equal((await say('cancel the timer')).reply, 'You have no timers to cancel.');
  assert.match((await say('set a timer')).reply, /For how long/);
  await timers.stop();
  await close();
});
