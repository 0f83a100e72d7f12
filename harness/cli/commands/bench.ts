/** `jpki-hil bench` (also `npm run bench`): signing, APDU and portal-login throughput, as ratios to openssl in the same run. */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { makeDirectories } from '../../../emulator/index.js';
import { benchReportHtml } from '../../bench/bench-report.js';
import { benchJson, formatBench, runBench } from '../../bench/bench.js';
import { soakPortal } from '../../bench/portal-soak.js';
import type { CommandContext, CommandRegistrar } from '../command.js';

export const registerBenchCommand: CommandRegistrar = (parser: Argv, ctx: CommandContext) =>
  parser.command(
    'bench',
    'Measure APDU round trips and signatures per second in-process, through pcscd/vpcd and through the NFC bridge, and portal logins per second, next to openssl speed',
    (y) =>
      y
        .option('seconds', { type: 'number', default: 3, describe: 'Longest time for each measurement' })
        .option('pcsc', { type: 'boolean', default: true, describe: 'Measure through pcscd and vpcd (--no-pcsc to skip)' })
        .option('nci', { type: 'boolean', default: true, describe: 'Measure through the NFC bridge and a simulated controller at 115200 and 921600 baud (--no-nci to skip)' })
        .option('workers', { type: 'number', default: availableParallelism(), defaultDescription: 'the number of cores', describe: 'Worker threads (and openssl processes) for the multi figures' })
        .option('portal', { type: 'boolean', default: true, describe: 'Measure IC-card logins at the mock portal (--no-portal to skip)' })
        .option('cards', {
          type: 'string',
          default: '4',
          describe:
            'Emulated cards logging in at the portal (one client each, up to 64); a comma list (4,16,64,256,1000) also measures logins as the population grows, with --clients clients at every size',
        })
        .option('clients', { type: 'number', default: 4, describe: 'With a list of --cards: concurrent clients at every population size' })
        .option('fresh-keys', { type: 'boolean', default: false, describe: 'With a list of --cards: generate the key pool of test keys (out/bench/key-pool.pem) again' })
        .option('soak', { type: 'boolean', default: false, describe: 'Instead: a bounded soak of `portal serve` (mixed traffic; RSS and database size at start and end)' })
        .option('soak-seconds', { type: 'number', default: 60, describe: 'How long the soak runs after its warm-up' })
        .option('json', { type: 'string', describe: 'Also write the figures as JSON to this file' })
        .option('html', { type: 'string', describe: 'Also write a self-contained HTML page with the table and the throughput chart' })
        .example('$0 bench --json out/bench.json --html out/bench.html', ''),
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
      const sizes = String(args.cards)
        .split(',')
        .map((part) => part.trim());
      const counts = sizes.map(Number);
      if (sizes.some((part) => !/^\d+$/.test(part)) || counts.some((n) => n < 1 || n > 1000) || counts[0]! > 64) {
        ctx.io.err(`jpki-hil: --cards '${String(args.cards)}' must be a whole number from 1 to 64, or a comma list of sizes up to 1000 (e.g. 4,16,64,256,1000) whose first is at most 64`);
        ctx.exitCode = 2;
        return;
      }
      if (!(Number.isInteger(args.clients) && args.clients >= 1 && args.clients <= 64)) {
        ctx.io.err(`jpki-hil: --clients '${args.clients}' must be a whole number from 1 to 64`);
        ctx.exitCode = 2;
        return;
      }
      const started = Date.now();
      const write = (file: string, text: string, what: string): void => {
        const path = resolve(file);
        makeDirectories(dirname(path));
        writeFileSync(path, text);
        ctx.io.out(`${what} written to ${path}`);
      };
      if (args.soak) {
        if (!(args['soak-seconds'] > 0 && args['soak-seconds'] <= 3600)) {
          ctx.io.err('jpki-hil: --soak-seconds must be between 0 and 3600');
          ctx.exitCode = 2;
          return;
        }
        const soak = await soakPortal({ seconds: args['soak-seconds'], progress: (line) => ctx.io.err(`bench [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s]: ${line}`) });
        const pct = (x: number | null): string => (x === null ? '?' : `${(x * 100).toFixed(1)} %`);
        ctx.io.out(`soak of portal serve, ${soak.seconds.toFixed(0)} s: ${Object.entries(soak.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        ctx.io.out(`  RSS ${soak.rss.startBytes ?? '?'} → ${soak.rss.endBytes ?? '?'} bytes (${pct(soak.rssGrowth)}); database ${soak.db.startBytes} → ${soak.db.endBytes} bytes (${pct(soak.dbGrowth)})`);
        if (args.json) write(args.json, `${JSON.stringify({ soak }, null, 2)}\n`, 'figures');
        return;
      }
      const result = await runBench({
        seconds: args.seconds,
        workers: args.workers,
        pcsc: args.pcsc,
        nci: args.nci,
        portal: args.portal,
        cards: counts[0]!,
        population: counts.length > 1 ? counts : [],
        clients: args.clients,
        freshKeys: args['fresh-keys'],
        progress: (line) => ctx.io.err(`bench [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s]: ${line}`),
      });
      ctx.io.out(formatBench(result));
      if (args.json) write(args.json, `${JSON.stringify(benchJson(result), null, 2)}\n`, 'figures');
      if (args.html) write(args.html, benchReportHtml(result), 'report');
    },
  );
