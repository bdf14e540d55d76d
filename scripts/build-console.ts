// `npm run build:console`: the web console's production build (packages/console/dist), which the coordinator serves.
import { buildConsole, consoleDist } from '../packages/console/src/index.ts';

await buildConsole();
process.stdout.write(`web console built into ${consoleDist}\n`);
