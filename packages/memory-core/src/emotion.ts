// Offline, rule-based emotion analyser over the 28 GoEmotions labels (27 emotions + neutral).
// No model, no I/O, no randomness: every table below is built once at module load, and analysing a
// text is one linear pass over its tokens.
//
// Method
// 1. Tokenisation. One precompiled regex splits the text into
//      - emoticons (":)", ":-(", ":'(", "<3", "xD", "^_^", "-_-", …; guarded so "http://" or "re:open" are
//        not emoticons),
//      - emoji (one Extended_Pictographic code point, e.g. "❤", "😂"; variation selectors are dropped),
//      - words: runs of unicode letters/marks/digits with inner apostrophes ("can't", "i'm", "3pm"),
//      - clause punctuation (. ! ? ; : , …).
//    Words are lowercased, typographic apostrophes become "'", and elongations ("sooo", "yaaay") collapse
//    to a known word when one exists. A word written in ALL CAPS (two or more letters) is remembered as
//    emphasised.
// 2. Lexicon. About 890 hand-written (cue, label, weight) entries over ~760 distinct words, phrases,
//    emoticons and emoji; a cue may map to several labels (weights: roughly 0.2 = faint hint,
//    1.0 = clear cue, 1.6 = unambiguous). Multi-word phrases ("thank you",
//    "can't wait", "miss you", "passed away", "not sure") are matched first, longest first, and consume
//    their tokens, so "can't wait" is excitement and its "can't" is not a negator. A word not in the
//    lexicon is retried with a few lexicon-gated suffix rules (happier→happy, worried→worry,
//    hoping→hope, hates→hate, sadly→sad); laughter ("hahaha", "lool", "lmao") is recognised by shape.
// 3. Modifiers, scoped to the clause (punctuation and but/however/although/though end a clause):
//    - Negation: a negator (not, no, never, n't-words such as don't/isn't, cannot, without, hardly, …)
//      within the previous 3 tokens of a cue transforms it with a per-label rule (NEGATION below):
//      positive cues flip — most of their weight moves to an opposing label ("not happy" → disappointment,
//      "don't like/love" → disapproval, "not relieved" → nervousness); negative cues are dampened to a
//      small remainder, sometimes with a little mass to a positive opposite ("not bad/terrible" →
//      approval, "not scared" → relief); ambiguous ones (surprise, curiosity, realization) are mostly
//      kept or dampened. An intensifier inside a negated scope softens ("not very happy" is milder
//      than "not happy").
//    - Intensifiers (very ×1.5, so ×1.5, really ×1.4, extremely ×1.8, …) and diminishers (slightly ×0.5,
//      a bit ×0.6, kind of ×0.6, …) within the previous 2 tokens multiply the cue's weight (product,
//      clamped to [0.2, 3]); a trailing "so much" / "very much" / "a lot" multiplies it by 1.4.
//    - An ALL-CAPS cue weighs ×1.5.
//    - Contrast: at "but" / "however" the evidence gathered so far is halved and later cues weigh
//      ×1.5, so "I hoped it would work but it failed" ends up disappointed.
// 4. Punctuation. A question mark adds a little curiosity (more when the clause has a wh-word or
//    "wonder"); "?!" / "!?" adds surprise. Exclamation marks and ALL-CAPS words do not create evidence
//    on their own but raise the intensity of whatever evidence there is.
// 5. Scores. Raw weights per label are accumulated (never negative). Neutral gets a prior mass
//    (0.6 + 0.03 per non-cue word, capped at 2), and the distribution is raw / (evidence + neutral)
//    — plain normalisation, no softmax — so weak evidence leaves 'neutral' dominant and factual text
//    with no cue is 100% neutral. dominant = argmax (label order breaks ties).
//    valence = Σ raw·valence(label) / evidence over the non-neutral labels (VALENCE below), in [-1, 1].
//    intensity = (1 − exp(−0.7·E)) · (1 + 0.12·min(!, 3) + 0.08·min(CAPS words, 3)), clamped to [0, 1],
//    where E is the evidence divided by sqrt(max(1, words/12)) so long texts are judged by their density
//    of cues rather than their length. Empty / whitespace-only text is neutral with intensity 0.
import { EMOTION_LABELS } from './emotion-labels.ts';

const LABELS = EMOTION_LABELS;
type Label = (typeof LABELS)[number];
type EmotionLabel = Exclude<Label, 'neutral'>;

/** The 28 GoEmotions labels, in the canonical order (neutral last). */
export const emotionLabels: readonly string[] = Object.freeze([...LABELS]);

export interface EmotionResult {
  /** One of emotionLabels; 'neutral' when nothing fires. */
  dominant: string;
  /** In [-1, 1]: weighted mean of the label valences of the non-neutral mass. */
  valence: number;
  /** In [0, 1]: grows (saturating) with the evidence, boosted by exclamations and ALL-CAPS. */
  intensity: number;
  /** Every label -> [0, 1], summing to 1. */
  scores: Record<string, number>;
}

/** Valence of each label in [-1, 1]. */
const VALENCE: Record<Label, number> = {
  admiration: 0.7,
  amusement: 0.7,
  anger: -0.8,
  annoyance: -0.5,
  approval: 0.5,
  caring: 0.5,
  confusion: -0.2,
  curiosity: 0.2,
  desire: 0.4,
  disappointment: -0.6,
  disapproval: -0.5,
  disgust: -0.8,
  embarrassment: -0.5,
  excitement: 0.8,
  fear: -0.8,
  gratitude: 0.8,
  grief: -0.9,
  joy: 0.9,
  love: 0.9,
  nervousness: -0.6,
  optimism: 0.6,
  pride: 0.7,
  realization: 0,
  relief: 0.6,
  remorse: -0.6,
  sadness: -0.8,
  surprise: 0.1,
  neutral: 0,
};

/**
 * What a negator does to a cue of each label: [kept fraction on the label, opposing label, fraction
 * moved to it]. Positive labels flip, negative ones are dampened, ambiguous ones mostly kept.
 */
const NEGATION: Record<Label, readonly [keep: number, target: Label | null, moved: number]> = {
  admiration: [0, 'disapproval', 0.6], // "not impressive"
  amusement: [0, 'disapproval', 0.5], // "not funny"
  anger: [0.2, null, 0], // "I'm not angry"
  annoyance: [0.2, null, 0],
  approval: [0, 'disapproval', 0.7], // "not good", "I don't agree"
  caring: [0, 'disapproval', 0.5], // "I don't care"
  confusion: [0.2, null, 0], // "not confused"
  curiosity: [0.3, null, 0], // "not interested" (mostly gone)
  desire: [0, 'disapproval', 0.5], // "I don't want"
  disappointment: [0.1, 'approval', 0.4], // "not disappointed"
  disapproval: [0.1, 'approval', 0.5], // "not wrong", "not terrible"
  disgust: [0.1, 'approval', 0.2],
  embarrassment: [0.2, null, 0],
  excitement: [0, 'disappointment', 0.6], // "not excited"
  fear: [0.2, 'relief', 0.3], // "not scared"
  gratitude: [0, 'disappointment', 0.5], // "not grateful"
  grief: [0.5, null, 0], // "never got over her death"
  joy: [0, 'disappointment', 0.7], // "not happy"
  love: [0, 'disapproval', 0.6], // "I don't love it"
  nervousness: [0.2, 'relief', 0.3], // "not worried"
  optimism: [0, 'disappointment', 0.6], // "not hopeful"
  pride: [0, 'disappointment', 0.6], // "not proud"
  realization: [0.5, 'surprise', 0.3], // "I didn't realise"
  relief: [0, 'nervousness', 0.6], // "not relieved"
  remorse: [0.2, 'disapproval', 0.3], // "I'm not sorry"
  sadness: [0.2, null, 0], // "not sad"
  surprise: [0.2, 'realization', 0.3], // "not surprised"
  neutral: [1, null, 0],
};

// The lexicon: label -> cue (word, phrase, emoticon or emoji) -> weight. A cue may appear under several
// labels; its weights are merged. Phrases are written with plain apostrophes; the apostrophe-less
// spelling ("cant wait", "im") is added automatically.
const LEXICON: Record<EmotionLabel, Record<string, number>> = {
  admiration: {
    admire: 1.3,
    admiration: 1.3,
    amazing: 1,
    awesome: 0.9,
    impressive: 1.2,
    impressed: 1.1,
    brilliant: 1,
    incredible: 0.9,
    outstanding: 1.1,
    excellent: 1,
    fantastic: 0.9,
    wonderful: 0.8,
    beautiful: 1,
    gorgeous: 1.1,
    stunning: 1,
    magnificent: 1.1,
    remarkable: 1,
    respect: 0.8,
    genius: 1,
    talented: 1.1,
    inspiring: 1.1,
    inspirational: 1.1,
    legend: 0.9,
    legendary: 1,
    masterpiece: 1.2,
    superb: 1.1,
    phenomenal: 1.1,
    elegant: 0.9,
    lovely: 0.6,
    great: 0.5,
    cool: 0.5,
    nice: 0.4,
    best: 0.4,
    sweet: 0.3,
    adorable: 0.5,
    amazed: 0.5,
    fascinated: 0.4,
    'well done': 1.3,
    'good job': 1.2,
    'great job': 1.3,
    'nice work': 1.2,
    'great work': 1.2,
    'hats off': 1.2,
    'well said': 0.8,
    'good for you': 0.8,
    "you're the best": 0.6,
    '🤩': 0.5,
    '🔥': 0.5,
    '👏': 1.2,
    '😍': 0.4,
  },
  amusement: {
    funny: 1.2,
    hilarious: 1.4,
    amusing: 1.1,
    amused: 1.1,
    laugh: 0.9,
    laughing: 1,
    laughed: 1,
    laughter: 1,
    lol: 1.2,
    lmao: 1.4,
    lmfao: 1.4,
    rofl: 1.3,
    haha: 1.2,
    hehe: 1,
    joke: 0.6,
    joking: 0.6,
    witty: 0.8,
    comedy: 0.6,
    fun: 0.4,
    'made me laugh': 1.4,
    'cracking up': 1.3,
    '😂': 1.3,
    '🤣': 1.4,
    '😆': 1.2,
    '😹': 1.2,
    '😅': 0.4,
    xd: 1.2,
    ':p': 0.7,
    ':-p': 0.7,
    ';)': 0.6,
    ';-)': 0.6,
    ':d': 0.6,
    ':-d': 0.6,
  },
  anger: {
    angry: 1.2,
    anger: 1.2,
    furious: 1.5,
    outraged: 1.4,
    outrageous: 1.2,
    rage: 1.4,
    raging: 1.3,
    mad: 0.9,
    livid: 1.5,
    pissed: 1.3,
    hate: 1.1,
    hated: 1,
    hatred: 1.3,
    infuriating: 1.4,
    infuriated: 1.4,
    enraged: 1.5,
    fuming: 1.4,
    irate: 1.4,
    resent: 1,
    resentment: 1.1,
    hostile: 0.9,
    frustrated: 0.3,
    fuck: 0.7,
    wtf: 0.9,
    bastard: 1,
    unfair: 0.4,
    bullshit: 0.4,
    upset: 0.3,
    despicable: 0.4,
    appalling: 0.4,
    'pissed off': 1.6,
    'how dare': 1.4,
    'what the hell': 1,
    'what the fuck': 1.2,
    'screw you': 1.3,
    'shut up': 1.1,
    '😠': 1.3,
    '😡': 1.5,
    '🤬': 1.5,
    '💢': 1.2,
    '😤': 0.6,
    '>:(': 1.3,
  },
  annoyance: {
    annoyed: 1.2,
    annoying: 1.2,
    annoy: 1,
    irritated: 1.2,
    irritating: 1.2,
    frustrated: 1,
    frustrating: 1,
    frustration: 1,
    ugh: 1,
    bothered: 0.7,
    nuisance: 1,
    tedious: 0.8,
    boring: 0.7,
    bored: 0.6,
    smh: 1,
    meh: 0.4,
    sigh: 0.6,
    grr: 1,
    grumpy: 0.9,
    cranky: 0.9,
    whatever: 0.3,
    ridiculous: 0.4,
    stupid: 0.4,
    'fed up': 1.3,
    'sick of': 1.2,
    'tired of': 1,
    'come on': 0.4,
    'waste of': 0.4,
    'bad day': 0.3,
    '-_-': 1,
    '🙄': 1.2,
    '😒': 1.1,
    '😤': 1,
    ':/': 0.3,
  },
  approval: {
    agree: 1,
    agreed: 1,
    approve: 1.2,
    approved: 0.9,
    correct: 0.6,
    exactly: 0.8,
    support: 0.4,
    supportive: 0.8,
    good: 0.6,
    fine: 0.3,
    okay: 0.2,
    ok: 0.2,
    yes: 0.4,
    yeah: 0.3,
    yep: 0.3,
    sure: 0.3,
    true: 0.3,
    valid: 0.6,
    recommend: 0.8,
    worth: 0.5,
    great: 0.4,
    pleased: 0.4,
    'i agree': 1.2,
    'good idea': 1.1,
    'great idea': 1.2,
    'sounds good': 1.1,
    'fair enough': 1,
    'of course': 0.6,
    'not bad': 0.9,
    'no problem': 0.6,
    'no worries': 0.4,
    'no doubt': 0.6,
    'i like': 0.8,
    'i liked': 0.8,
    'i really like': 1.1,
    'we like': 0.7,
    'makes sense': 0.8,
    'well said': 0.8,
    'good for you': 0.5,
    '👍': 1.1,
    '👌': 1,
  },
  caring: {
    care: 0.6,
    caring: 1,
    hug: 1,
    hugs: 1.1,
    comfort: 0.8,
    sympathy: 1.1,
    sympathize: 1.1,
    condolences: 1,
    kindness: 0.7,
    protect: 0.6,
    gentle: 0.5,
    concerned: 0.3,
    'take care': 1.2,
    'feel better': 1.2,
    'get well': 1.3,
    'here for you': 1.4,
    "don't worry": 1,
    'no worries': 0.6,
    'no problem': 0.4,
    'stay safe': 1.2,
    'be careful': 1,
    'are you okay': 1,
    'are you ok': 1,
    'thinking of you': 1.1,
    'praying for': 1.1,
    'bless you': 0.9,
    'sorry for your loss': 1.2,
    'let me help': 1,
    'good luck': 0.5,
    '🤗': 1,
  },
  confusion: {
    confused: 1.3,
    confusing: 1.2,
    confusion: 1.3,
    puzzled: 1.2,
    baffled: 1.2,
    perplexed: 1.3,
    bewildered: 1.2,
    unsure: 0.9,
    unclear: 0.8,
    huh: 1,
    hmm: 0.6,
    idk: 0.7,
    weird: 0.5,
    strange: 0.4,
    odd: 0.3,
    'not sure': 0.9,
    'no idea': 0.9,
    "don't understand": 1.2,
    "doesn't make sense": 1.3,
    "don't get it": 1.2,
    "don't know": 0.6,
    'what do you mean': 1.2,
    'wait what': 1.1,
    '😕': 1,
    '🤨': 0.9,
    ':/': 0.8,
    ':-/': 0.8,
  },
  curiosity: {
    curious: 1.3,
    curiosity: 1.3,
    wonder: 1,
    wondering: 1.1,
    intrigued: 1.2,
    intriguing: 1.1,
    interested: 0.8,
    interesting: 0.8,
    fascinated: 1,
    fascinating: 1,
    'i wonder': 1.3,
    'how come': 1,
    'what if': 0.5,
    'tell me more': 1.2,
    "i'd love to know": 1.3,
    'want to know': 1,
    'want to learn': 1,
    'can you explain': 0.9,
    '🤔': 1.1,
  },
  desire: {
    want: 0.5,
    wish: 0.9,
    crave: 1.2,
    craving: 1.2,
    longing: 1,
    desire: 1.2,
    yearn: 1.2,
    yearning: 1.2,
    tempted: 0.8,
    eager: 0.6,
    dream: 0.5,
    hungry: 0.4,
    'i wish': 1.1,
    'long for': 1.1,
    "i'd love": 1,
    'would love': 1,
    "i'd like": 0.7,
    'would like': 0.6,
    'dying to': 1,
    'if only': 1,
    'hope to': 0.6,
    'i hope': 0.3,
    '🥺': 0.6,
  },
  disappointment: {
    disappointed: 1.4,
    disappointing: 1.3,
    disappointment: 1.4,
    letdown: 1.2,
    bummer: 1.1,
    underwhelming: 1.1,
    underwhelmed: 1.1,
    dissatisfied: 1.1,
    unsatisfied: 1,
    unfortunately: 0.6,
    sadly: 0.5,
    regrettably: 0.6,
    shame: 0.5,
    failed: 0.6,
    failure: 0.7,
    fail: 0.5,
    wasted: 0.6,
    meh: 0.4,
    bad: 0.3,
    bored: 0.2,
    boring: 0.3,
    'let down': 1.2,
    'what a shame': 1.2,
    'too bad': 1,
    'oh well': 0.6,
    'expected better': 1.2,
    'waste of': 1,
    'messed up': 0.3,
    'bad news': 0.5,
    'oh no': 0.4,
    '😞': 1,
    '😔': 0.8,
    '😩': 0.6,
    ':(': 0.5,
    ':-(': 0.5,
  },
  disapproval: {
    disagree: 1.2,
    disapprove: 1.3,
    wrong: 0.8,
    bad: 0.6,
    terrible: 0.8,
    awful: 0.8,
    horrible: 0.6,
    worst: 0.8,
    unacceptable: 1.3,
    inappropriate: 1.1,
    shameful: 1,
    unfair: 1,
    ridiculous: 0.9,
    nonsense: 0.9,
    stupid: 0.7,
    dumb: 0.6,
    bullshit: 0.9,
    irresponsible: 1.1,
    pathetic: 0.9,
    reject: 0.7,
    rejected: 0.5,
    'shame on': 1.3,
    'bad idea': 1.2,
    "you shouldn't": 0.8,
    'no thanks': 0.4,
    '👎': 1.2,
  },
  disgust: {
    disgusting: 1.5,
    disgusted: 1.5,
    disgust: 1.4,
    gross: 1.3,
    nasty: 1.1,
    vile: 1.4,
    revolting: 1.4,
    repulsive: 1.4,
    repugnant: 1.4,
    abhorrent: 1.4,
    sickening: 1.3,
    nauseating: 1.3,
    yuck: 1.3,
    ew: 1.2,
    eww: 1.3,
    horrid: 1,
    filthy: 1,
    creepy: 0.9,
    despicable: 1.3,
    appalling: 1.1,
    appalled: 1.2,
    sick: 0.3,
    terrible: 0.4,
    horrible: 0.6,
    worst: 0.4,
    pathetic: 0.4,
    shameful: 0.4,
    horrified: 0.4,
    'makes me sick': 1.4,
    'grossed out': 1.4,
    '🤢': 1.4,
    '🤮': 1.5,
  },
  embarrassment: {
    embarrassed: 1.5,
    embarrassing: 1.4,
    embarrassment: 1.5,
    awkward: 1,
    ashamed: 1.1,
    humiliated: 1.4,
    humiliating: 1.4,
    mortified: 1.5,
    cringe: 1.2,
    cringey: 1.2,
    cringy: 1.2,
    blush: 0.9,
    blushing: 1,
    shy: 0.7,
    facepalm: 1,
    oops: 0.7,
    guilty: 0.3,
    '😳': 1.1,
    '😅': 0.5,
    '🤦': 1.1,
  },
  excitement: {
    excited: 1.4,
    exciting: 1.3,
    excitement: 1.4,
    thrilled: 1.4,
    thrilling: 1.3,
    exhilarating: 1.3,
    stoked: 1.4,
    pumped: 1.2,
    hyped: 1.3,
    hype: 0.9,
    yay: 1.1,
    woohoo: 1.3,
    hooray: 1.2,
    ecstatic: 1.2,
    eager: 0.5,
    adventure: 0.5,
    celebrate: 0.4,
    celebrating: 0.4,
    omg: 0.4,
    wow: 0.3,
    "can't wait": 1.5,
    'cannot wait': 1.5,
    'looking forward': 1.2,
    "let's go": 1.1,
    '🎉': 1.1,
    '🥳': 1.2,
    '🤩': 1.2,
    '🔥': 0.6,
  },
  fear: {
    scared: 1.4,
    afraid: 1.4,
    fear: 1.3,
    frightened: 1.5,
    frightening: 1.4,
    terrified: 1.6,
    terrifying: 1.5,
    horrified: 1.3,
    horror: 1.1,
    panic: 1.2,
    panicking: 1.2,
    scary: 1.3,
    dread: 1.2,
    dreading: 1.2,
    spooked: 1.1,
    petrified: 1.5,
    alarmed: 1,
    alarming: 1,
    threatened: 0.9,
    threat: 0.6,
    danger: 0.7,
    dangerous: 0.7,
    unsafe: 0.9,
    phobia: 1,
    nightmare: 0.9,
    creepy: 0.4,
    startled: 0.4,
    anxious: 0.3,
    anxiety: 0.3,
    worried: 0.3,
    killed: 0.3,
    shocked: 0.2,
    'freaked out': 1.3,
    'freaking out': 1.1,
    'oh no': 0.6,
    '😱': 1.4,
    '😨': 1.4,
    '😰': 1,
  },
  gratitude: {
    thank: 1.4,
    thanks: 1.4,
    thx: 1.2,
    ty: 1,
    tysm: 1.5,
    grateful: 1.5,
    thankful: 1.5,
    gratitude: 1.5,
    appreciate: 1.3,
    appreciated: 1.2,
    appreciation: 1.2,
    indebted: 0.9,
    cheers: 0.4,
    blessed: 0.4,
    honored: 0.5,
    honoured: 0.5,
    'thank you': 1.6,
    'thanks a lot': 1.6,
    'thank god': 0.3,
    'much appreciated': 1.6,
    'many thanks': 1.6,
    'you saved me': 1,
    "you're the best": 1,
    '🙏': 1.1,
  },
  grief: {
    grief: 1.6,
    grieving: 1.6,
    grieve: 1.5,
    mourn: 1.5,
    mourning: 1.5,
    bereaved: 1.5,
    bereavement: 1.5,
    died: 1.2,
    death: 0.9,
    dead: 0.7,
    funeral: 1.3,
    loss: 0.7,
    widow: 0.9,
    condolences: 0.5,
    heartbroken: 0.3,
    sobbing: 0.3,
    sorrow: 0.5,
    devastated: 0.5,
    tragic: 0.4,
    tragedy: 0.4,
    'passed away': 1.6,
    'rest in peace': 1.4,
    'no longer with us': 1.4,
    'lost my': 0.5,
    '🕯': 0.8,
  },
  joy: {
    happy: 1.3,
    happiness: 1.3,
    glad: 1.2,
    joy: 1.4,
    joyful: 1.4,
    delighted: 1.4,
    delight: 1.2,
    cheerful: 1.2,
    pleased: 1,
    enjoy: 1,
    enjoyed: 1,
    enjoying: 1,
    fun: 1,
    elated: 1.5,
    overjoyed: 1.6,
    ecstatic: 0.8,
    thrilled: 0.5,
    blessed: 0.9,
    smile: 0.9,
    smiling: 0.9,
    celebrate: 1,
    celebrating: 1,
    yay: 0.6,
    hooray: 0.5,
    great: 0.5,
    wonderful: 0.6,
    fantastic: 0.6,
    awesome: 0.5,
    amazing: 0.5,
    lovely: 0.4,
    finally: 0.3,
    victory: 0.4,
    won: 0.5,
    'good news': 1.1,
    'made my day': 1.5,
    'best day': 1.3,
    'on cloud nine': 1.5,
    "couldn't be happier": 1.8,
    'could not be happier': 1.8,
    'never been happier': 1.8,
    '😊': 1.2,
    '😄': 1.3,
    '😃': 1.2,
    '😀': 1.1,
    '😁': 1.2,
    '🙂': 0.7,
    '☺': 1,
    '🎉': 0.5,
    '😎': 0.4,
    ':)': 1,
    ':-)': 1,
    ':]': 0.9,
    '=)': 1,
    ':d': 1.2,
    ':-d': 1.2,
    ';)': 0.4,
    '^^': 0.8,
    '^_^': 1,
  },
  love: {
    love: 1.4,
    loved: 1.2,
    loving: 1.1,
    adore: 1.5,
    adorable: 1.1,
    beloved: 1,
    darling: 0.8,
    sweetheart: 0.8,
    romantic: 0.9,
    crush: 0.6,
    affection: 1.1,
    cherish: 1.2,
    xoxo: 1.2,
    lovely: 0.5,
    sweet: 0.5,
    'i love you': 1.8,
    'love you': 1.6,
    'in love': 1.5,
    'fell in love': 1.6,
    'miss you': 0.4,
    '❤': 1.5,
    '💕': 1.4,
    '💖': 1.3,
    '💗': 1.3,
    '💓': 1.3,
    '💞': 1.3,
    '💘': 1.3,
    '💜': 1.2,
    '💙': 1.2,
    '😍': 1.4,
    '🥰': 1.5,
    '😘': 1.3,
    '<3': 1.3,
    ':*': 0.9,
    ':-*': 0.9,
  },
  nervousness: {
    nervous: 1.4,
    anxious: 1.4,
    anxiety: 1.3,
    worried: 1.3,
    worry: 1.1,
    worrying: 1.1,
    tense: 0.9,
    stressed: 1.1,
    stress: 0.9,
    stressful: 1,
    uneasy: 1.2,
    jittery: 1.2,
    jumpy: 0.8,
    restless: 0.7,
    overwhelmed: 1,
    apprehensive: 1.2,
    insecure: 1,
    concerned: 0.9,
    concern: 0.5,
    panic: 0.6,
    panicking: 0.6,
    dread: 0.5,
    dreading: 0.5,
    shy: 0.3,
    'on edge': 1.2,
    'freaking out': 0.6,
    'butterflies in my stomach': 1.3,
    'what if': 0.6,
    '😬': 1,
    '😟': 1.1,
    '😰': 1,
  },
  optimism: {
    hope: 1.1,
    hopeful: 1.4,
    hoping: 1.1,
    hopefully: 1,
    optimistic: 1.5,
    optimism: 1.4,
    confident: 0.9,
    promising: 1,
    positive: 0.7,
    encouraging: 0.9,
    faith: 0.7,
    believe: 0.4,
    'i hope': 1.2,
    'fingers crossed': 1.3,
    'looking up': 1,
    'will be fine': 1.2,
    'will be okay': 1.2,
    'will be ok': 1.2,
    "it'll be fine": 1.2,
    'bright side': 1.2,
    'good luck': 1,
    'best of luck': 1.2,
    'better days': 1,
    'can do it': 1,
    'i believe': 0.6,
    'hope to': 0.4,
    '🤞': 1.2,
  },
  pride: {
    proud: 1.5,
    pride: 1.3,
    accomplished: 1.1,
    accomplishment: 1.1,
    achieved: 0.9,
    achievement: 1,
    triumph: 1.1,
    triumphant: 1.2,
    victory: 0.9,
    won: 0.7,
    honored: 1,
    honoured: 1,
    confident: 0.3,
    'proud of you': 1.7,
    'i did it': 1.3,
    'we did it': 1.3,
    'nailed it': 1.2,
    '💪': 0.9,
    '😎': 0.7,
  },
  realization: {
    realize: 1.2,
    realise: 1.2,
    realized: 1.3,
    realised: 1.3,
    realizing: 1.2,
    realising: 1.2,
    realization: 1.3,
    realisation: 1.3,
    aha: 1.3,
    epiphany: 1.4,
    apparently: 0.6,
    noticed: 0.5,
    'turns out': 1.1,
    'i see': 0.6,
    'oh i see': 1.3,
    'now i get it': 1.3,
    'now i understand': 1.3,
    'figured out': 1.1,
    'makes sense': 0.3,
    'it hit me': 1.2,
    'dawned on me': 1.4,
    "i didn't know": 0.8,
    'never knew': 0.9,
    'no wonder': 1.2,
    'wait a minute': 0.7,
    'who knew': 0.5,
    'i guess': 0.4,
  },
  relief: {
    relieved: 1.5,
    relief: 1.4,
    phew: 1.4,
    whew: 1.4,
    finally: 0.7,
    calm: 0.4,
    'thank god': 1.2,
    'thank goodness': 1.3,
    'what a relief': 1.7,
    'at last': 0.8,
    'safe and sound': 1.2,
    'weight off my shoulders': 1.5,
    'off my chest': 0.9,
    '😌': 1.2,
  },
  remorse: {
    sorry: 1.3,
    sry: 1.1,
    apologize: 1.3,
    apologise: 1.3,
    apologies: 1.3,
    apology: 1.1,
    regret: 1.3,
    regretting: 1.3,
    remorse: 1.5,
    remorseful: 1.5,
    guilty: 1.2,
    guilt: 1.2,
    ashamed: 0.5,
    oops: 0.3,
    'my fault': 1.4,
    'my bad': 0.9,
    'forgive me': 1.4,
    "i shouldn't have": 1.4,
    'i should have': 0.8,
    'i messed up': 1.2,
    'i was wrong': 1.3,
    'feel bad': 1,
  },
  sadness: {
    sad: 1.4,
    sadness: 1.4,
    unhappy: 1.3,
    depressed: 1.4,
    depressing: 1.3,
    depression: 1.2,
    miserable: 1.4,
    heartbroken: 1.6,
    heartbreaking: 1.4,
    heartache: 1.4,
    lonely: 1.3,
    loneliness: 1.3,
    alone: 0.5,
    cry: 1.1,
    crying: 1.2,
    cried: 1.2,
    tears: 1,
    tearful: 1.2,
    sobbing: 1.4,
    gloomy: 1.1,
    melancholy: 1.2,
    hurt: 0.8,
    hurts: 0.9,
    painful: 0.8,
    pain: 0.6,
    sorrow: 1.4,
    upset: 1,
    devastated: 1.4,
    hopeless: 1.3,
    despair: 1.4,
    bleak: 0.8,
    grim: 0.7,
    tragic: 1.2,
    tragedy: 1.2,
    struggling: 0.7,
    struggle: 0.5,
    exhausted: 0.5,
    bored: 0.3,
    unfortunately: 0.3,
    sadly: 0.5,
    died: 0.8,
    death: 0.6,
    dead: 0.5,
    funeral: 0.6,
    loss: 0.6,
    killed: 0.5,
    condolences: 0.6,
    'passed away': 0.8,
    'rest in peace': 0.5,
    'lost my': 0.5,
    'broke my heart': 1.5,
    'feeling down': 1.2,
    'feel down': 1.2,
    'miss you': 1.4,
    'miss her': 1.4,
    'miss him': 1.4,
    'miss them': 1.4,
    'miss us': 1.2,
    'miss it': 1,
    'miss my': 1.2,
    'miss home': 1.2,
    'missed you': 1.2,
    'missing you': 1.4,
    'missing her': 1.4,
    'missing him': 1.4,
    'bad news': 1.1,
    'bad day': 0.8,
    'rough day': 1,
    'feel bad': 0.4,
    'sorry for your loss': 0.8,
    'if only': 0.3,
    '😢': 1.3,
    '😭': 1.4,
    '☹': 1.1,
    '🙁': 1,
    '😞': 0.6,
    '😔': 0.5,
    '💔': 1.1,
    ':(': 0.8,
    ':-(': 0.8,
    ':[': 0.8,
    ":'(": 1.3,
    '</3': 1.2,
    t_t: 1.2,
  },
  surprise: {
    surprised: 1.4,
    surprise: 1.2,
    surprising: 1.2,
    surprisingly: 1,
    shocked: 1.4,
    shocking: 1.3,
    shock: 1.2,
    astonished: 1.5,
    astonishing: 1.3,
    amazed: 1.3,
    stunned: 1.4,
    startled: 1.3,
    speechless: 1.2,
    unexpected: 1,
    unexpectedly: 1,
    unbelievable: 1.2,
    wow: 1.1,
    whoa: 1.3,
    woah: 1.3,
    omg: 1.1,
    apparently: 0.3,
    weird: 0.3,
    'oh my god': 1.3,
    'oh my gosh': 1.3,
    'no way': 1.1,
    "can't believe": 1.2,
    'cannot believe': 1.2,
    'holy shit': 1.3,
    'holy cow': 1.3,
    'out of nowhere': 1,
    "didn't expect": 1.2,
    "didn't see that coming": 1.4,
    "i didn't know": 0.4,
    'never knew': 0.4,
    'who knew': 1,
    'wait a minute': 0.3,
    'oh no': 0.4,
    '😮': 1.3,
    '😲': 1.4,
    '😯': 1.2,
    '🤯': 1.4,
    ':o': 1.1,
    ':-o': 1.1,
  },
};

/** Phrases that are matched only to consume their tokens (no cue, and their negator does not negate). */
const INERT_PHRASES = ['never mind', 'no matter', 'not only', 'no one knows', 'not that'];

/** Intensifiers (> 1) and diminishers (< 1), applied to a cue within the next 2 tokens of the clause. */
const MODIFIERS: Record<string, number> = {
  very: 1.5,
  so: 1.5,
  really: 1.4,
  extremely: 1.8,
  incredibly: 1.7,
  insanely: 1.7,
  super: 1.5,
  totally: 1.5,
  absolutely: 1.6,
  completely: 1.5,
  utterly: 1.7,
  truly: 1.4,
  deeply: 1.5,
  terribly: 1.6,
  awfully: 1.5,
  too: 1.3,
  most: 1.3,
  highly: 1.3,
  especially: 1.3,
  particularly: 1.3,
  exceptionally: 1.6,
  genuinely: 1.3,
  seriously: 1.3,
  such: 1.4,
  quite: 1.15,
  pretty: 1.2,
  damn: 1.4,
  damned: 1.4,
  bloody: 1.4,
  freaking: 1.5,
  fucking: 1.6,
  hella: 1.5,
  mega: 1.4,
  ultra: 1.4,
  overly: 1.3,
  slightly: 0.5,
  somewhat: 0.6,
  mildly: 0.5,
  marginally: 0.5,
  moderately: 0.7,
  fairly: 0.8,
  rather: 0.85,
  kinda: 0.6,
  sorta: 0.6,
  barely: 0.3,
  almost: 0.7,
  partly: 0.6,
  'a bit': 0.6,
  'a little': 0.6,
  'a little bit': 0.5,
  'a tad': 0.6,
  'kind of': 0.6,
  'sort of': 0.6,
};

/** Post-modifiers: "<cue> so much" etc. multiply the preceding cue. */
const POST_MODIFIERS: Record<string, number> = {
  'so much': 1.4,
  'very much': 1.4,
  'a lot': 1.4,
  'like crazy': 1.4,
  'to death': 1.4,
};

const NEGATORS = new Set([
  'not',
  'no',
  'never',
  'nor',
  'neither',
  'cannot',
  'without',
  'hardly',
  'scarcely',
  'nothing',
  'nobody',
  'none',
  'nowhere',
  'dont',
  'doesnt',
  'didnt',
  'isnt',
  'wasnt',
  'arent',
  'werent',
  'cant',
  'couldnt',
  'wont',
  'wouldnt',
  'shouldnt',
  'havent',
  'hasnt',
  'hadnt',
  'aint',
  'nope',
]);

/** Words that end a negation/modifier scope like punctuation does. */
const CLAUSE_BREAKERS = new Set(['but', 'however', 'although', 'though', 'whereas']);
/** Contrastive words: what came before them is halved, what follows weighs ×1.5 ("hoped …, but it failed"). */
const CONTRASTIVE = new Set(['but', 'however']);
const WH_WORDS = new Set(['what', 'why', 'how', 'when', 'where', 'who', 'whom', 'whose', 'which', 'wonder']);

const NEGATION_WINDOW = 3;
const MODIFIER_WINDOW = 2;
const CAPS_CUE_BOOST = 1.5;
const NEGATED_INTENSIFIER = 0.7;
const MOD_MIN = 0.2;
const MOD_MAX = 3;
const QUESTION_WH = 0.4;
const QUESTION_PLAIN = 0.2;
const QUESTION_EXCLAIM = 0.8;
const CONTRAST_BEFORE = 0.5;
const CONTRAST_AFTER = 1.5;
const NEUTRAL_BASE = 0.6;
const NEUTRAL_PER_WORD = 0.03;
const NEUTRAL_MAX = 2;
const DENSITY_WORDS = 12;
const INTENSITY_RATE = 0.7;
const EXCLAMATION_BOOST = 0.12;
const CAPS_BOOST = 0.08;
const BOOST_CAP = 3;

// ---------------------------------------------------------------------------------------------------
// Tokeniser

const KIND_WORD = 0;
const KIND_EMOJI = 1;
const KIND_PUNCT = 2;

const EMOTICONS = [
  ':)',
  ':-)',
  ':]',
  '=)',
  ':d',
  ':-d',
  'xd',
  ';)',
  ';-)',
  ':p',
  ':-p',
  ':(',
  ':-(',
  ':[',
  ":'(",
  '>:(',
  ':/',
  ':-/',
  '<3',
  '</3',
  ':o',
  ':-o',
  '^^',
  '^_^',
  '-_-',
  't_t',
  ':*',
  ':-*',
];

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

// Emoticons that start with a letter/digit must not follow one ("boxd"); those ending with a
// letter/digit/slash must not precede one ("re:open", "http://", "<30").
const EMOTICON_PATTERN = [...EMOTICONS]
  .sort((a, b) => b.length - a.length)
  .map((e) => {
    const pre = /^[a-z0-9]/i.test(e) ? '(?<![\\p{L}\\p{N}])' : '';
    const post = /[a-z0-9/]$/i.test(e) ? '(?![\\p{L}\\p{N}/])' : '';
    return pre + escapeRegex(e) + post;
  })
  .join('|');

const TOKEN_RE = new RegExp(
  `(${EMOTICON_PATTERN})|(\\p{Extended_Pictographic})|([\\p{L}\\p{M}\\p{N}]+(?:['’][\\p{L}\\p{M}\\p{N}]+)*)|([.!?;:,…])`,
  'giu',
);
const ELONGATED_RE_G = /(\p{L})\1{2,}/gu;
const LAUGH_RE = /^(?:(?:ha|ah|he|ja){2,}h?|lo+l+|lmf?a+o+)$/;

interface Tokens {
  norm: string[];
  kind: number[];
  caps: boolean[];
}

/** True when some character repeats three times in a row ("sooo"). */
function isElongated(w: string): boolean {
  for (let i = 2; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if (c === w.charCodeAt(i - 1) && c === w.charCodeAt(i - 2)) return true;
  }
  return false;
}

// Set once the tables below are built; used to pick the right collapse of an elongated word.
let isKnownWord: (w: string) => boolean = () => false;

function normalizeWord(lower: string): string {
  let w = lower.includes('’') ? lower.replaceAll('’', "'") : lower;
  if (isElongated(w)) {
    const two = w.replace(ELONGATED_RE_G, '$1$1');
    if (isKnownWord(two)) return two;
    const one = w.replace(ELONGATED_RE_G, '$1');
    w = isKnownWord(one) ? one : two;
  }
  return w;
}

/** ALL-CAPS: at least two letters and no lowercase letter ("HAPPY", "I'M"; not "I" or "Happy"). */
function isAllCaps(raw: string, lower: string): boolean {
  if (raw.length < 2 || raw === lower || raw !== raw.toUpperCase()) return false;
  let letters = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] !== lower[i] && ++letters >= 2) return true;
  return false;
}

function tokenize(text: string): Tokens {
  const norm: string[] = [];
  const kind: number[] = [];
  const caps: boolean[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(text)) !== null) {
    const word = m[3];
    if (word !== undefined) {
      const lower = word.toLowerCase();
      norm.push(normalizeWord(lower));
      kind.push(KIND_WORD);
      caps.push(isAllCaps(word, lower));
    } else {
      norm.push(m[1] !== undefined ? m[1].toLowerCase() : m[0]);
      kind.push(m[4] !== undefined ? KIND_PUNCT : KIND_EMOJI);
      caps.push(false);
    }
  }
  return { norm, kind, caps };
}

// ---------------------------------------------------------------------------------------------------
// Tables built at module load

interface Cue {
  readonly label: number;
  readonly weight: number;
}
interface Phrase {
  /** Tokens after the first one. */
  readonly rest: readonly string[];
  readonly cues: Cue[];
}
interface ModPhrase {
  readonly rest: readonly string[];
  readonly factor: number;
}
/** Everything known about one (normalised) token, so the hot loop does a single Map lookup. */
interface Vocab {
  phrases?: Phrase[];
  modPhrases?: ModPhrase[];
  /** Modifier factor, 0 when the token is not a modifier. */
  mod: number;
  negator: boolean;
  breaker: boolean;
  contrastive: boolean;
  wh: boolean;
  cues?: Cue[];
}

const LABEL_COUNT = LABELS.length;
const LABEL_INDEX = new Map<string, number>(LABELS.map((l, i) => [l, i]));
const NEUTRAL = LABEL_COUNT - 1;
const CURIOSITY = LABEL_INDEX.get('curiosity') ?? 0;
const SURPRISE = LABEL_INDEX.get('surprise') ?? 0;
const VALENCES = Float64Array.from(LABELS, (l) => VALENCE[l]);
const NEG_KEEP = Float64Array.from(LABELS, (l) => NEGATION[l][0]);
const NEG_TARGET = Int32Array.from(LABELS, (l) => {
  const t = NEGATION[l][1];
  return t === null ? -1 : (LABEL_INDEX.get(t) ?? -1);
});
const NEG_MOVED = Float64Array.from(LABELS, (l) => NEGATION[l][2]);

const VOCAB = new Map<string, Vocab>();
const POST_MODS = new Map<string, Map<string, number>>();
const PLAIN: Readonly<Vocab> = Object.freeze({
  mod: 0,
  negator: false,
  breaker: false,
  contrastive: false,
  wh: false,
});

function vocab(w: string): Vocab {
  let v = VOCAB.get(w);
  if (!v) {
    v = { mod: 0, negator: false, breaker: false, contrastive: false, wh: false };
    VOCAB.set(w, v);
  }
  return v;
}

/** Tokenise a table key the same way as input text; keys must not contain clause punctuation. */
function keyTokens(key: string): [string, ...string[]] {
  const t = tokenize(key);
  if (t.norm.length === 0 || t.kind.includes(KIND_PUNCT)) throw new Error(`emotion: bad lexicon key ${key}`);
  return t.norm as [string, ...string[]];
}

function keyVariants(key: string): string[] {
  return key.includes("'") ? [key, key.replaceAll("'", '')] : [key];
}

function addPhrase(first: string, rest: string[], cues: Cue[]): void {
  const v = vocab(first);
  v.phrases ??= [];
  const joined = rest.join(' ');
  const same = v.phrases.find((p) => p.rest.join(' ') === joined);
  if (same) same.cues.push(...cues);
  else v.phrases.push({ rest, cues });
}

for (const label of LABELS) {
  if (label === 'neutral') continue;
  const index = LABEL_INDEX.get(label) ?? 0;
  for (const [key, weight] of Object.entries(LEXICON[label])) {
    for (const variant of keyVariants(key)) {
      const [first, ...rest] = keyTokens(variant);
      const cue: Cue = { label: index, weight };
      if (rest.length > 0) addPhrase(first, rest, [cue]);
      else (vocab(first).cues ??= []).push(cue);
    }
  }
}
for (const key of INERT_PHRASES) {
  const [first, ...rest] = keyTokens(key);
  addPhrase(first, rest, []);
}
for (const [key, factor] of Object.entries(MODIFIERS)) {
  const [first, ...rest] = keyTokens(key);
  const v = vocab(first);
  if (rest.length === 0) v.mod = factor;
  else (v.modPhrases ??= []).push({ rest, factor });
}
for (const [key, factor] of Object.entries(POST_MODIFIERS)) {
  const [a, b] = keyTokens(key);
  const inner = POST_MODS.get(a) ?? new Map<string, number>();
  inner.set(b ?? '', factor);
  POST_MODS.set(a, inner);
}
for (const w of NEGATORS) vocab(w).negator = true;
for (const [w, v] of VOCAB) if (w.endsWith("n't")) v.negator = true; // "don't" also starts phrases
for (const w of CLAUSE_BREAKERS) vocab(w).breaker = true;
for (const w of CONTRASTIVE) vocab(w).contrastive = true;
for (const w of WH_WORDS) vocab(w).wh = true;
for (const v of VOCAB.values()) {
  v.phrases?.sort((a, b) => b.rest.length - a.rest.length);
  v.modPhrases?.sort((a, b) => b.rest.length - a.rest.length);
  // A modifier/negator/breaker is never scored as a cue itself.
  if (v.mod !== 0 || v.negator || v.breaker) delete v.cues;
}
isKnownWord = (w) => VOCAB.has(w);

// Lexicon-gated suffix stripping: [suffix, replacements]. Tried in order; the first hit wins.
const SUFFIX_RULES: readonly (readonly [string, readonly string[]])[] = [
  ['iest', ['y']],
  ['ier', ['y']],
  ['ily', ['y']],
  ['ied', ['y']],
  ['ies', ['y']],
  ['ing', ['', 'e']],
  ['ed', ['', 'e']],
  ['es', ['']],
  ['s', ['']],
  ['ly', ['', 'le']],
];
const LAUGH_CUES: Cue[] = VOCAB.get('haha')?.cues ?? [];
const NEGATOR_VOCAB: Readonly<Vocab> = Object.freeze({ ...PLAIN, negator: true });
// Words not in VOCAB, resolved once (suffix rules, n't, laughter) and cached; bounded, so memory stays
// flat on arbitrary input. The cache never changes a result, only its cost.
const DERIVED = new Map<string, Readonly<Vocab>>();
const DERIVED_MAX = 8192;

function stemCues(w: string): Cue[] | undefined {
  if (w.endsWith("'s")) return VOCAB.get(w.slice(0, -2))?.cues;
  for (const [suffix, replacements] of SUFFIX_RULES) {
    if (!w.endsWith(suffix)) continue;
    const stem = w.slice(0, -suffix.length);
    if (stem.length < 3) continue;
    for (const r of replacements) {
      const c = VOCAB.get(stem + r)?.cues;
      if (c) return c;
    }
    // hugging -> hug, stunned -> stun
    if ((suffix === 'ing' || suffix === 'ed') && stem.length >= 4 && stem.at(-1) === stem.at(-2)) {
      const c = VOCAB.get(stem.slice(0, -1))?.cues;
      if (c) return c;
    }
  }
  return undefined;
}

function derive(w: string): Readonly<Vocab> {
  if (w.endsWith("n't")) return NEGATOR_VOCAB;
  if (LAUGH_RE.test(w)) return { ...PLAIN, cues: LAUGH_CUES };
  const cues = w.length >= 4 ? stemCues(w) : undefined;
  return cues ? { ...PLAIN, cues } : PLAIN;
}

function lookup(w: string, kind: number): Readonly<Vocab> {
  const known = VOCAB.get(w);
  if (known) return known;
  if (kind !== KIND_WORD) return PLAIN;
  let v = DERIVED.get(w);
  if (!v) {
    v = derive(w);
    if (DERIVED.size >= DERIVED_MAX) DERIVED.clear();
    DERIVED.set(w, v);
  }
  return v;
}

function matchRest(norm: readonly string[], from: number, rest: readonly string[]): boolean {
  if (from + rest.length > norm.length) return false;
  for (let k = 0; k < rest.length; k++) if (norm[from + k] !== rest[k]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Analysis

function neutralResult(): EmotionResult {
  const scores: Record<string, number> = {};
  for (const l of LABELS) scores[l] = 0;
  scores.neutral = 1;
  return { dominant: 'neutral', valence: 0, intensity: 0, scores };
}

/** Analyse the emotional content of an English text. Deterministic and synchronous. */
export function analyzeEmotion(text: string): EmotionResult {
  const { norm, kind, caps } = tokenize(text);
  const n = norm.length;
  if (n === 0) return neutralResult();

  const raw = new Float64Array(LABEL_COUNT);
  const negAt = new Uint8Array(n);
  const modAt = new Float64Array(n); // 0 = no modifier at this token

  let clauseStart = 0;
  let clauseWh = false;
  let questioned = false;
  let exclamations = 0;
  let capsWords = 0;
  let words = 0;
  let plainWords = 0;
  let contrast = 1;

  const add = (label: number, weight: number): void => {
    raw[label] = (raw[label] as number) + weight;
  };
  const applyCues = (start: number, end: number, cues: readonly Cue[]): void => {
    let factor = contrast;
    for (let j = start; j <= end; j++) {
      if (caps[j]) {
        factor *= CAPS_CUE_BOOST;
        break;
      }
    }
    const low = Math.max(clauseStart, start - NEGATION_WINDOW);
    let negated = false;
    for (let j = start - 1; j >= low; j--) {
      if (negAt[j] === 1) {
        negated = true;
        break;
      }
    }
    let mod = 1;
    const modLow = Math.max(clauseStart, start - MODIFIER_WINDOW);
    for (let j = start - 1; j >= modLow; j--) if (modAt[j] !== 0) mod *= modAt[j] as number;
    if (negated) {
      if (mod > 1) mod = NEGATED_INTENSIFIER;
    } else {
      const post = POST_MODS.get(norm[end + 1] ?? '')?.get(norm[end + 2] ?? '');
      if (post !== undefined) mod *= post;
    }
    factor *= Math.min(MOD_MAX, Math.max(MOD_MIN, mod));
    for (const cue of cues) {
      const w = cue.weight * factor;
      if (!negated) {
        add(cue.label, w);
        continue;
      }
      add(cue.label, w * (NEG_KEEP[cue.label] as number));
      const target = NEG_TARGET[cue.label] as number;
      if (target >= 0) add(target, w * (NEG_MOVED[cue.label] as number));
    }
  };

  let i = 0;
  while (i < n) {
    const w = norm[i] as string;
    const k = kind[i] as number;
    if (k === KIND_PUNCT) {
      if (w === '!') exclamations++;
      else if (w === '?' && !questioned) {
        // Consecutive "???" count once.
        add(CURIOSITY, clauseWh ? QUESTION_WH : QUESTION_PLAIN);
        if (norm[i - 1] === '!' || norm[i + 1] === '!') add(SURPRISE, QUESTION_EXCLAIM);
        questioned = true;
      }
      clauseStart = i + 1;
      clauseWh = false;
      i++;
      continue;
    }
    words++;
    questioned = false;
    if (caps[i]) capsWords++;
    const v = lookup(w, k);
    if (v.wh) clauseWh = true;

    // 1. Cue (or inert) phrases, longest first; they consume their tokens.
    if (v.phrases) {
      const phrase = v.phrases.find((p) => matchRest(norm, i + 1, p.rest));
      if (phrase) {
        const end = i + phrase.rest.length;
        for (let j = i + 1; j <= end; j++) if (caps[j]) capsWords++;
        words += phrase.rest.length;
        if (phrase.cues.length > 0) applyCues(i, end, phrase.cues);
        else plainWords += phrase.rest.length + 1;
        i = end + 1;
        continue;
      }
    }
    // 2. Modifier phrases and words: remembered at their last token.
    if (v.modPhrases) {
      const mp = v.modPhrases.find((p) => matchRest(norm, i + 1, p.rest));
      if (mp) {
        const end = i + mp.rest.length;
        modAt[end] = mp.factor;
        words += mp.rest.length;
        i = end + 1;
        continue;
      }
    }
    if (v.mod !== 0) {
      modAt[i] = v.mod;
    } else if (v.negator) {
      // 3. Negators and clause breakers.
      negAt[i] = 1;
    } else if (v.breaker) {
      if (v.contrastive) {
        for (let l = 0; l < NEUTRAL; l++) raw[l] = (raw[l] as number) * CONTRAST_BEFORE;
        contrast = CONTRAST_AFTER;
      }
      clauseStart = i + 1;
      clauseWh = false;
    } else if (v.cues) {
      // 4. Single cues (lexicon, suffix rules, laughter shapes).
      applyCues(i, i, v.cues);
    } else {
      plainWords++;
    }
    i++;
  }

  let evidence = 0;
  let valenceSum = 0;
  for (let l = 0; l < NEUTRAL; l++) {
    const r = raw[l] as number;
    evidence += r;
    valenceSum += r * (VALENCES[l] as number);
  }
  if (evidence <= 0) return neutralResult();

  const neutralMass = Math.min(NEUTRAL_MAX, NEUTRAL_BASE + NEUTRAL_PER_WORD * plainWords);
  raw[NEUTRAL] = neutralMass;
  const total = evidence + neutralMass;
  const scores: Record<string, number> = {};
  let dominant = 0;
  for (let l = 0; l < LABEL_COUNT; l++) {
    const r = raw[l] as number;
    scores[LABELS[l] as Label] = r / total;
    if (r > (raw[dominant] as number)) dominant = l;
  }

  const valence = Math.max(-1, Math.min(1, valenceSum / evidence));
  const density = evidence / Math.sqrt(Math.max(1, words / DENSITY_WORDS));
  const boost =
    1 + EXCLAMATION_BOOST * Math.min(exclamations, BOOST_CAP) + CAPS_BOOST * Math.min(capsWords, BOOST_CAP);
  const intensity = Math.max(0, Math.min(1, (1 - Math.exp(-INTENSITY_RATE * density)) * boost));

  return { dominant: LABELS[dominant] as Label, valence: valence === 0 ? 0 : valence, intensity, scores };
}
