// `npm run fuzz -- --count N [--seed S] [--seeds K]`: the seeded APDU fuzzer of the suite
// (harness/fuzz/apdu-fuzzer.ts) for long runs, on a card issued by a throwaway test CA. Exits 1
// when an invariant broke, printing each violation with the seed that replays it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '100000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) }, seeds: { type: 'string', default: '1' } },
});
const count = Number(values.count);
const firstSeed = Number(values.seed);
const seeds = Number(values.seeds);
for (const [name, value] of [['--count', count], ['--seed', firstSeed], ['--seeds', seeds]]) {
  if (!Number.isInteger(value) || value < 0) {
    console.error(`fuzz: ${name} ${value} is not a whole number`);
    process.exit(2);
  }
}
const root = join(import.meta.dirname, '..', 'dist');
const { initCa, issueCard, kDefaultDefinition } = await import(join(root, 'emulator', 'index.js'));
const { fuzzCard } = await import(join(root, 'harness', 'fuzz', 'apdu-fuzzer.js'));
const dir = mkdtempSync(join(tmpdir(), 'jpki-hil-fuzz-'));
let broken = 0;
try {
  const { image } = await issueCard(initCa(join(dir, 'ca')), kDefaultDefinition);
  for (let s = 0; s < seeds; s++) {
    const seed = firstSeed + s;
    const started = Date.now();
    const report = fuzzCard(image, { count, seed });
    const top = [...report.statusWords.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([sw, n]) => `${sw}×${n}`).join(' ');
    console.log(`seed ${seed}: ${report.commands} APDUs in ${((Date.now() - started) / 1000).toFixed(1)} s, ${report.signatures} signatures, ${report.verifiedPins} PIN verifications, ${report.blockedPins} PINs blocked; ${report.statusWords.size} status words (${top})`);
    for (const v of report.violations) console.log(`  VIOLATION seed ${v.seed} #${v.index}: ${v.invariant}; command ${v.command} -> ${v.answer}`);
    broken += report.violationCount;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(broken === 0 ? 'fuzz: no invariant broken' : `fuzz: ${broken} violations`);
process.exit(broken === 0 ? 0 : 1);
