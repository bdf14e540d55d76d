// Variables that look like ours but are not get a warning naming the one meant; ours and unrelated ones do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { services } from './services.ts';
import { knownVariables, misspelledVariables } from './variables.ts';

test('a misspelled port or URL variable is named with the variable meant; known and unrelated ones are not', () => {
  const known = knownVariables(services);
  assert.ok(known.has('DREAM_PUB_PORT') && known.has('MEMORY_CORE_PORT') && known.has('ORCHESTRATOR_URL'));
  const found = misspelledVariables(
    {
      DREAMWORLD_PUB_PORT: '15598',
      MEMORYCORE_PORT: '25010',
      ORCHESTRATER_URL: 'http://127.0.0.1:28002',
      MEMORY_CORE_PORT: '25010',
      DATABASE_URL: 'postgres://127.0.0.1/test',
      NATS_URL: 'nats://127.0.0.1:4222',
      GITHUB_API_URL: 'https://example.invalid',
      npm_config_registry_url: 'x',
      PATH: '/usr/bin',
    },
    known,
  );
  assert.deepEqual(found, [
    { variable: 'DREAMWORLD_PUB_PORT', meant: ['DREAMWORLD_PORT', 'DREAM_PUB_PORT'] },
    { variable: 'MEMORYCORE_PORT', meant: ['MEMORY_CORE_PORT'] },
    { variable: 'ORCHESTRATER_URL', meant: ['ORCHESTRATOR_URL'] },
  ]);
  assert.deepEqual(misspelledVariables(process.env, known), [], 'nothing in this machine’s own environment');
});
