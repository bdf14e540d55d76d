// English number words shared by the parsers that read them (the assistant's skills, the reasoning agent).

/** zero … nineteen, and "no" as zero. */
export const SMALL_NUMBER_WORDS: Readonly<Record<string, number>> = Object.freeze({
  zero: 0,
  no: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
});

/** English month names, January first (index = month number − 1). */
export const MONTHS: readonly string[] = Object.freeze([
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
]);
