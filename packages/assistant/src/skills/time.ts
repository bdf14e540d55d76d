// "What time is it?", "What's the date today?", "What day is it?" — in the configured time zone.
import type { Skill, SkillContext } from './types.ts';

type TimeIntent = 'time' | 'date' | 'day' | 'both';

const TIME =
  /\b(?:what(?: is|s)? the time|what time is it|tell me the time|time (?:is it|please|now)|current time|got the time|the time now)\b|^time$/;
const DATE =
  /\b(?:what(?: is|s)? (?:the |today'?s )?date|what date is it|today'?s date|the date today|current date|date (?:today|please))\b|^date$/;
const DAY = /\b(?:what day (?:is it|is today|of the week)|which day is (?:it|today))\b/;

export function formatTime(now: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', minute: '2-digit' }).format(now);
}

export function formatDate(now: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
  }).format(now);
}

export const timeSkill: Skill<TimeIntent> = {
  name: 'time',
  help: 'tell you the time and the date',
  match(ctx: SkillContext) {
    if (/\b(?:timer|remind|reminder)s?\b/.test(ctx.norm)) return null;
    const t = TIME.test(ctx.norm);
    const d = DATE.test(ctx.norm);
    if (t && d) return 'both';
    if (t) return 'time';
    if (d) return 'date';
    if (DAY.test(ctx.norm)) return 'day';
    return null;
  },
  async run(intent, ctx) {
    const time = formatTime(ctx.now, ctx.timeZone);
    const date = formatDate(ctx.now, ctx.timeZone);
    const weekday = new Intl.DateTimeFormat('en-US', { timeZone: ctx.timeZone, weekday: 'long' }).format(
      ctx.now,
    );
    const reply =
      intent === 'time'
        ? `It's ${time}.`
        : intent === 'date'
          ? `Today is ${date}.`
          : intent === 'day'
            ? `Today is ${weekday}.`
            : `It's ${time} on ${date}.`;
    return { reply, data: { time, date, time_zone: ctx.timeZone, epoch_ms: ctx.now } };
  },
};
