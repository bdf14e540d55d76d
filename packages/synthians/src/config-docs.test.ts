// The README documents every configuration variable of every service, as the schemas define them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readmeConfigSection } from './config-docs.ts';

test('the README configuration tables match the schemas (run `npm run docs:config` to update)', () => {
  const { current, expected } = readmeConfigSection();
  assert.equal(current, expected);
});
