/**
 * The CLI under bad input, each case a real process (`node bin/jpki-hil.js …`): exit 2 for bad
 * arguments and data, one line on stderr naming the input, never a stack trace; a broken pipe ends
 * quietly; a signal ends a command, leaving nothing half-written.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCardImage, type CardImage } from '../../../emulator/index.js';
import { issueFixture, kPackageRoot, tempDir } from '../../support/cards.js';

const kBin = join(kPackageRoot, 'bin', 'jpki-hil.js');
const kSelectJpki = '00A4040C0AD392F000260100000001';

interface Case {
  name: string;
  args: (d: string) => string[];
  /** What the one line must contain: the input it names, and the problem. */
  says: (d: string) => (string | RegExp)[];
  code?: number;
  skip?: string | undefined;
}

// Tests run as root in CI, and root reads and writes files whatever their mode: a chmod 000 case
// would pass for the wrong reason or fail for one that does not concern the CLI.
const kRootSkips = process.getuid?.() === 0 ? 'root ignores file modes' : undefined;

const kCases: Case[] = [
  { name: 'card show: empty file', args: (d) => ['card', 'show', join(d, 'empty.json')], says: (d) => [join(d, 'empty.json'), 'empty'] },
  { name: 'card show: huge file', args: (d) => ['card', 'show', join(d, 'huge.json')], says: (d) => [join(d, 'huge.json'), 'far more than a card image'] },
  { name: 'card show: binary file', args: (d) => ['card', 'show', join(d, 'binary.json')], says: (d) => [join(d, 'binary.json'), 'binary'] },
  { name: 'card show: a directory', args: (d) => ['card', 'show', d], says: (d) => [d, 'is a directory'] },
  { name: 'card show: missing file', args: (d) => ['card', 'show', join(d, 'missing.json')], says: (d) => [join(d, 'missing.json'), 'does not exist'] },
  { name: 'card show: symbolic link loop', args: (d) => ['card', 'show', join(d, 'loop.json')], says: (d) => [join(d, 'loop.json'), 'symbolic link loop'] },
  { name: 'card show: a path through a file', args: (d) => ['card', 'show', join(d, 'card.json', 'x.json')], says: (d) => [join(d, 'card.json', 'x.json')] },
  { name: 'card show: no permission', args: (d) => ['card', 'show', join(d, 'unreadable.json')], says: (d) => [join(d, 'unreadable.json'), 'permission denied'], skip: kRootSkips },
  { name: 'card show: certificate EF is not a certificate', args: (d) => ['card', 'show', join(d, 'bad-cert.json')], says: () => ['applets.jpki.files.000A', 'not an X.509 certificate'] },
  { name: 'card show --json: certificate EF is not a certificate', args: (d) => ['card', 'show', '--json', join(d, 'bad-cert.json')], says: () => ['applets.jpki.files.000A'] },
  { name: 'card apdu: malformed private key', args: (d) => ['card', 'apdu', join(d, 'bad-key.json'), kSelectJpki], says: (d) => [join(d, 'bad-key.json'), 'applets.jpki.keys.auth', 'not a readable PKCS#8 private key'] },
  { name: 'card apdu: bad hex', args: (d) => ['card', 'apdu', join(d, 'card.json'), '00A4ZZ'], says: () => ['<hex..>', '00A4ZZ'] },
  { name: 'card apdu: short APDU', args: (d) => ['card', 'apdu', join(d, 'card.json'), '00A4'], says: () => ['"00A4" has 2 bytes'] },
  { name: 'card apdu: a directory', args: (d) => ['card', 'apdu', d, kSelectJpki], says: (d) => [d, 'is a directory'] },
  { name: 'card serve: missing image', args: (d) => ['card', 'serve', '--card', join(d, 'missing.json'), '--vpcd', '127.0.0.1:1'], says: (d) => [join(d, 'missing.json'), 'does not exist'] },
  { name: 'card reset-pin: binary file', args: (d) => ['card', 'reset-pin', join(d, 'binary.json'), '--pin', 'auth'], says: (d) => [join(d, 'binary.json')] },
  { name: 'card issue --out: a directory', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', d], says: (d) => [`--out ${d}`, 'is a directory'] },
  { name: 'card issue --out: unwritable path', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', '/proc/jpki-hil/card.json'], says: () => ['--out /proc/jpki-hil/card.json', 'cannot write there'] },
  { name: 'card issue --out: below a file', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'card.json', 'x.json')], says: (d) => [`--out ${join(d, 'card.json', 'x.json')}`] },
  { name: 'card issue --definition: bad date', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--definition', join(d, 'bad-date.yaml')], says: (d) => [`${join(d, 'bad-date.yaml')}:5: identity.birth`, '2000-02-30'] },
  { name: 'card issue --definition: My Number check digit', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--definition', join(d, 'bad-my-number.yaml')], says: (d) => [`${join(d, 'bad-my-number.yaml')}:3: identity.myNumber`, 'check digit'] },
  { name: 'card issue --definition: binary file', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--definition', join(d, 'binary.json')], says: (d) => [join(d, 'binary.json')] },
  { name: 'card issue --definition: a directory', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--definition', d], says: (d) => [d, 'directory'] },
  { name: 'card issue --definition: empty file', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--definition', join(d, 'empty.yaml')], says: (d) => [join(d, 'empty.yaml')] },
  { name: 'card issue --birth: a date that does not exist', args: (d) => ['card', 'issue', '--ca', join(d, 'ca'), '--out', join(d, 'new.json'), '--birth', '2001-02-29'], says: () => ['--birth', '2001-02-29'] },
  { name: 'portal serve --port abc', args: (d) => ['portal', 'serve', '--ca', join(d, 'ca'), '--db', ':memory:', '--port', 'abc'], says: () => ['--port "abc" is not a number'] },
  { name: 'portal serve --port 70000', args: (d) => ['portal', 'serve', '--ca', join(d, 'ca'), '--db', ':memory:', '--port', '70000'], says: () => ['--port 70000'] },
  { name: 'portal serve --db under /proc', args: (d) => ['portal', 'serve', '--ca', join(d, 'ca'), '--port', '0', '--db', '/proc/jpki-hil/portal.sqlite'], says: () => ['--db /proc/jpki-hil/portal.sqlite'] },
  { name: 'portal serve --db a directory', args: (d) => ['portal', 'serve', '--ca', join(d, 'ca'), '--port', '0', '--db', d], says: (d) => [`--db ${d}`] },
  { name: 'citizen serve --db under /proc', args: (d) => ['citizen', 'serve', '--ca', join(d, 'ca'), '--port', '0', '--db', '/proc/jpki-hil/citizen.sqlite'], says: () => ['--db /proc/jpki-hil/citizen.sqlite'] },
  { name: 'portal serve --ca missing', args: (d) => ['portal', 'serve', '--ca', join(d, 'no-ca'), '--port', '0'], says: (d) => ['--ca', join(d, 'no-ca')] },
  { name: 'ca init --dir under /proc', args: () => ['ca', 'init', '--dir', '/proc/jpki-hil/ca'], says: () => ['--dir /proc/jpki-hil/ca'] },
  { name: 'ca init --dir a file', args: (d) => ['ca', 'init', '--dir', join(d, 'card.json')], says: (d) => [join(d, 'card.json'), 'not a directory'] },
  { name: 'ca revoke --dir missing', args: (d) => ['ca', 'revoke', '--dir', join(d, 'no-ca'), '--card', join(d, 'card.json')], says: (d) => ['--dir', join(d, 'no-ca')] },
  { name: 'ca revoke --card empty file', args: (d) => ['ca', 'revoke', '--dir', join(d, 'ca'), '--card', join(d, 'empty.json')], says: (d) => ['--card', join(d, 'empty.json')] },
  { name: 'run --out under /proc', args: () => ['run', '--suite', 'smoke', '--out', '/proc/jpki-hil/run'], says: () => ['/proc/jpki-hil'] },
  { name: 'demo --out under /proc', args: () => ['demo', '--out', '/proc/jpki-hil/demo'], says: () => ['/proc/jpki-hil'] },
  { name: 'bench --cards not a number', args: () => ['bench', '--cards', 'four'], says: () => ["--cards 'four'"] },
  { name: 'bench --cards beyond 1000', args: () => ['bench', '--cards', '4,2000'], says: () => ["--cards '4,2000'", 'up to 1000'] },
  { name: 'an unknown command', args: () => ['card', 'frobnicate'], says: () => ['frobnicate'] },
  { name: 'an unknown option', args: (d) => ['card', 'show', join(d, 'card.json'), '--colour'], says: () => ['Unknown argument: --colour; see: jpki-hil card show --help'] },
  { name: 'an unknown --no- option', args: () => ['bench', '--no-issuance', '--seconds', '0.5'], says: () => ['Unknown argument: --no-issuance; see: jpki-hil bench --help'] },
];

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [kBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status, signal) => done({ status, stdout, stderr, signal }));
  });
}

describe('the CLI under bad input', () => {
  const dir = tempDir();
  const d = dir.path;

  beforeAll(async () => {
    const { image } = await issueFixture(d, 'adult');
    writeFileSync(join(d, 'card.json'), serializeCardImage(image));
    writeFileSync(join(d, 'empty.json'), '');
    writeFileSync(join(d, 'empty.yaml'), '');
    writeFileSync(join(d, 'huge.json'), Buffer.alloc(8 * 1024 * 1024, 0x20));
    writeFileSync(join(d, 'binary.json'), randomBytes(4096));
    writeFileSync(join(d, 'unreadable.json'), serializeCardImage(image));
    chmodSync(join(d, 'unreadable.json'), 0o000);
    symlinkSync(join(d, 'loop.json'), join(d, 'loop.json'));
    const badCert: CardImage = structuredClone(image);
    badCert.applets.jpki.files['000A'] = Buffer.from('not a certificate at all').toString('base64');
    writeFileSync(join(d, 'bad-cert.json'), serializeCardImage(badCert));
    const badKey: CardImage = structuredClone(image);
    badKey.applets.jpki.keys.auth = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
    writeFileSync(join(d, 'bad-key.json'), serializeCardImage(badKey));
    writeFileSync(join(d, 'bad-date.yaml'), 'description: a date that does not exist\nidentity:\n  name: 番号 花子\n  address: 東京都\n  birth: 2000-02-30\n');
    writeFileSync(join(d, 'bad-my-number.yaml'), 'identity:\n  name: 番号 花子\n  myNumber: "123456789012"\n');
    mkdirSync(join(d, 'sub'));
  });
  afterAll(() => dir.remove());

  // Each case is its own process and touches only its own inputs: run a few at once.
  describe.concurrent('one real process per case', () => {
    for (const c of kCases) {
      it.skipIf(c.skip !== undefined)(`${c.name}: exit ${c.code ?? 2}, one line naming the input, no stack trace`, async ({ expect }) => {
        const r = await runCli(c.args(d));
        const lines = r.stderr.trim().split('\n');
        expect(r.signal, r.stderr).toBeNull();
        expect(r.status, r.stderr).toBe(c.code ?? 2);
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^jpki-hil: /);
        expect(r.stderr).not.toMatch(/^\s+at /m);
        expect(r.stderr).not.toContain('internal error');
        for (const part of c.says(d)) {
          if (typeof part === 'string') expect(lines[0]).toContain(part);
          else expect(lines[0]).toMatch(part);
        }
      });
    }
  });

  it('left no temporary copies and no lock behind', () => {
    expect(readdirSync(d).filter((n) => n.endsWith('.tmp') || n.endsWith('.lock'))).toEqual([]);
  });

  it('ends quietly when its output is piped into `head -c1` (EPIPE)', () => {
    const apdus = Array.from({ length: 400 }, () => kSelectJpki);
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${kBin}" card apdu --json "$@" | head -c1 >/dev/null`, 'pipe', join(d, 'card.json'), ...apdus], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.status, r.stderr).toBe(0);
    // Its exit released the card.
    expect(existsSync(join(d, 'card.json.lock'))).toBe(false);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`portal serve ends on ${signal}`, async () => {
      const child = spawn(process.execPath, [kBin, 'portal', 'serve', '--ca', join(d, 'ca'), '--port', '0', '--db', join(d, 'sub', `portal-${signal}.sqlite`)], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((done, fail) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('portal: http') && done());
        child.on('exit', (code) => fail(new Error(`portal serve exited early (${code})`)));
      });
      const ended = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      child.kill(signal);
      expect(await ended).toBe(0);
    });
  }

  it('card issue ended by SIGTERM mid-way leaves no card image and no temporary copy', async () => {
    const out = join(d, 'sub', 'interrupted.json');
    const child = spawn(process.execPath, [kBin, 'card', 'issue', '--ca', join(d, 'ca'), '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Node is up and the command is parsing or issuing: stop it there.
    await new Promise((done) => setTimeout(done, 300));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, sig) => done({ code, signal: sig })));
    child.kill('SIGTERM');
    const { code, signal } = await ended;
    // Either it finished first (0) or the signal ended it (143, or the signal itself before the CLI listened).
    expect([0, 143].includes(code ?? -1) || signal === 'SIGTERM').toBe(true);
    const left = readdirSync(join(d, 'sub')).filter((n) => n.includes('interrupted'));
    if (code === 0) expect(left).toEqual(['interrupted.json']);
    else expect(left).toEqual([]);
  });
});
