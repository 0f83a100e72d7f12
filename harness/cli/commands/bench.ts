/** `jpki-hil bench` (also `npm run bench`): signing and APDU throughput, as ratios to openssl in the same run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { formatBench, runBench } from '../../bench/bench.js';
import type { CommandContext, CommandRegistrar } from '../main.js';

export const registerBenchCommand: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command(
    'bench',
    'Measure APDU round trips and signatures per second in-process and through pcscd/vpcd, next to openssl speed',
    (y) =>
      y
        .option('seconds', { type: 'number', default: 3, describe: 'Longest time for each measurement' })
        .option('pcsc', { type: 'boolean', default: true, describe: 'Measure through pcscd and vpcd (--no-pcsc to skip)' })
        .option('workers', { type: 'number', default: availableParallelism(), defaultDescription: 'the number of cores', describe: 'Worker threads (and openssl processes) for the multi figures' })
        .option('json', { type: 'string', describe: 'Also write the figures as JSON to this file' })
        .example('$0 bench --json out/bench.json', ''),
    async (args) => {
      if (!(args.seconds > 0 && args.seconds <= 600)) {
        ctx.io.err('jpki-hil: --seconds must be between 0 and 600');
        ctx.exitCode = 2;
        return;
      }
      if (!(Number.isInteger(args.workers) && args.workers >= 1 && args.workers <= 256)) {
        ctx.io.err('jpki-hil: --workers must be a whole number from 1 to 256');
        ctx.exitCode = 2;
        return;
      }
      const result = await runBench({ seconds: args.seconds, workers: args.workers, pcsc: args.pcsc, progress: (line) => ctx.io.err(`bench: ${line}`) });
      ctx.io.out(formatBench(result));
      if (args.json) {
        const path = resolve(args.json);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
        ctx.io.out(`figures written to ${path}`);
      }
    },
  );
