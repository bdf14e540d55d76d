// The configuration tables of the README, generated from the services' schemas (`npm run docs:config`).
import { readFileSync, writeFileSync } from 'node:fs';
import { describeConfig } from '@synthians/kit';
import { services } from './services.ts';

export const runnerVariables = [
  {
    variable: 'SYNTHIANS_DATA_DIR',
    default: './data',
    description: 'Root of all data; one subfolder per service',
  },
  {
    variable: 'HOST',
    default: '127.0.0.1',
    description: '`up`: address every service binds (non-loopback needs SYNTHIANS_API_TOKEN)',
  },
  { variable: 'LOG_LEVEL', default: 'info', description: 'Log level of the runner and the services' },
  {
    variable: '<SERVICE>_PORT',
    default: 'registry',
    description: '`up`: override one service’s port, e.g. MEMORY_CORE_PORT=5011 (0 = any free port)',
  },
];

export function configMarkdown(): string {
  const row = (v: { variable: string; default: string; description: string }) =>
    `| \`${v.variable}\` | ${v.default === '' ? '—' : `\`${v.default}\``} | ${v.description} |`;
  const parts = [
    '#### Runner (`synthians up` / `serve`)',
    '',
    '| Variable | Default | Meaning |',
    '|---|---|---|',
    ...runnerVariables.map(row),
  ];
  for (const s of services) {
    parts.push(
      '',
      `#### ${s.name}`,
      '',
      '| Variable | Default | Meaning |',
      '|---|---|---|',
      ...describeConfig(s.config).map(row),
    );
  }
  return parts.join('\n');
}

const readme = new URL('../../../README.md', import.meta.url);
const section = /<!-- config:start -->[\s\S]*<!-- config:end -->/;

/** The README's configuration section as it is, and as the schemas say it should be. */
export function readmeConfigSection(): { current: string; expected: string } {
  const current = section.exec(readFileSync(readme, 'utf8'))?.[0] ?? '';
  return { current, expected: `<!-- config:start -->\n${configMarkdown()}\n<!-- config:end -->` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    writeFileSync(readme, readFileSync(readme, 'utf8').replace(section, readmeConfigSection().expected));
  } else {
    process.stdout.write(`${configMarkdown()}\n`);
  }
}
