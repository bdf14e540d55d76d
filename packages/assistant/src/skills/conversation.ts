// Help, small talk (greetings, thanks, goodbyes) and the plain answer for anything unmatched without a language model.
import type { Skill, SkillContext } from './types.ts';

const HELP =
  /^(?:help|help me|(?:can you )?help(?: me)? please)$|\b(?:what can you do|what do you do|what are you able to do|what (?:can|should) i (?:ask|say)|how do(?:es)? (?:this|it|you) work|list (?:of )?(?:your )?(?:commands|skills)|your (?:commands|skills|abilities))\b/;

export function capabilities(skills: readonly Skill[]): string {
  const helps = skills.map((s) => s.help).filter((h): h is string => typeof h === 'string');
  if (helps.length === 0) return 'chat with you';
  return helps.length === 1 ? (helps[0] as string) : `${helps.slice(0, -1).join(', ')} and ${helps.at(-1)}`;
}

export function helpSkill(skills: () => readonly Skill[]): Skill<true> {
  return {
    name: 'help',
    match: (ctx: SkillContext) => (HELP.test(ctx.norm) ? true : null),
    async run() {
      return {
        reply:
          `I can ${capabilities(skills())}. ` +
          `Try "what time is it", "set a timer for five minutes", "remind me to call Ana at 5 pm", ` +
          `"remember that my sister is called Ana" or "what do you remember about my sister".`,
      };
    },
  };
}

type Talk = 'greeting' | 'thanks' | 'bye' | 'how' | 'who';
const TALK: [Talk, RegExp][] = [
  [
    'greeting',
    /^(?:(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))(?: there)?(?: (?:synthians|assistant|buddy|friend))?)$/,
  ],
  [
    'thanks',
    /^(?:(?:thanks?|thank you|thx|cheers|ta)(?: (?:so much|a lot|very much|a bunch))?(?: synthians)?|much appreciated|great thanks|ok(?:ay)? thanks?)$/,
  ],
  [
    'bye',
    /^(?:bye|goodbye|bye bye|see you(?: later)?|good night|goodnight|that'?s all(?: for now)?|talk to you later)$/,
  ],
  ['how', /^(?:how are you(?: doing)?(?: today)?|how'?s it going|how do you do|what'?s up)$/],
  ['who', /^(?:who are you|what(?: is|s) your name|what are you)$/],
];

export const smallTalkSkill: Skill<Talk> = {
  name: 'small_talk',
  match(ctx) {
    for (const [kind, re] of TALK) if (re.test(ctx.norm)) return kind;
    return null;
  },
  async run(kind) {
    const reply = {
      greeting: 'Hello! How can I help?',
      thanks: "You're welcome!",
      bye: 'Goodbye! Talk to you soon.',
      how: "I'm doing well, thanks for asking. How can I help?",
      who: "I'm Synthians, your local voice assistant. Say 'help' to hear what I can do.",
    }[kind];
    return { reply };
  },
};

/** The answer to an unmatched turn when no language model is configured. */
export function fallbackReply(skills: readonly Skill[]): string {
  return `Sorry, I can't answer that without a language model. I can ${capabilities(skills)}. Say "help" for examples.`;
}
