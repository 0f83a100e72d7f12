import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../harness/cli/main.js';
import { kPackageRoot, tempDir } from '../../support/cards.js';

interface Result {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const kBin = join(kPackageRoot, 'bin', 'jpki-hil.js');

describe('jpki-hil card and ca commands', () => {
  const dir = tempDir();
  const ca = join(dir.path, 'ca');
  const adult = join(dir.path, 'adult.json');

  beforeAll(async () => {
    const r = await cli('card', 'issue', '--ca', ca, '--out', adult);
    expect(r.code, r.err).toBe(0);
  });
  afterAll(() => dir.remove());

  it('card issue with no options makes a CA and an adult card under ./out (the built command, in a fresh directory)', () => {
    const cwd = join(dir.path, 'fresh');
    execFileSync('mkdir', ['-p', cwd]);
    const first = spawnSync(process.execPath, [kBin, 'card', 'issue'], { cwd, encoding: 'utf8' });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('created test CA');
    expect(existsSync(join(cwd, 'out', 'ca', 'auth-ca.pem'))).toBe(true);
    expect(existsSync(join(cwd, 'out', 'cards', 'adult.json'))).toBe(true);
    // Nothing is lost: a second run refuses to overwrite the card.
    const second = spawnSync(process.execPath, [kBin, 'card', 'issue'], { cwd, encoding: 'utf8' });
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(/already exists; pass --force/);
  });

  it('card show prints the identity, certificate serials and tries left', async () => {
    const r = await cli('card', 'show', adult);
    expect(r.code).toBe(0);
    expect(r.out).toContain('番号　太郎');
    expect(r.out).toMatch(/authentication certificate:\n\s+serial\s+0A/);
    expect(r.out).toMatch(/auth\s+3\/3/);
    expect(r.out).toMatch(/sign\s+5\/5/);
    const json = JSON.parse((await cli('card', 'show', adult, '--json')).out) as { tries: Record<string, { remaining: number }>; signatureIdentity: { name: string } };
    expect(json.tries.auth!.remaining).toBe(3);
    expect(json.signatureIdentity.name).toBe('番号　太郎');
  });

  it('card apdu sends APDUs in one session, decodes SWs, and persists PIN state', async () => {
    const r = await cli('card', 'apdu', adult, '00A4040C0AD392F000260100000001', '00A4020C020018', '002000800439393939', '00200080', '--json');
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n').map((l) => JSON.parse(l) as { command: string; response: string; sw: string; meaning: string });
    expect(lines.map((l) => l.sw)).toEqual(['9000', '9000', '63C2', '63C2']);
    // The PIN typed on the command line is not printed back: the one mask of every trace.
    expect(lines[2]).toMatchObject({ command: '0020008004********', response: '', meaning: 'wrong PIN or status query, 2 tries left' });
    expect(r.out).not.toContain('39393939');
    // Why the card refused a command is printed beside its SW (the card sent the SW alone).
    const refused = await cli('card', 'apdu', adult, '00A4040110D392F000260100000001', '--json');
    expect(JSON.parse(refused.out)).toEqual({ command: '00A4040110D392F000260100000001', response: '', sw: '6700', meaning: 'wrong length (Lc or Le)', detail: 'short Lc 16 does not match the 10 bytes that follow' });
    expect((await cli('card', 'show', adult)).out).toMatch(/auth\s+2\/3/);
    const text = await cli('card', 'apdu', adult, '00A4040C0AD392F000260100000001', '00A4020C020006', '00B0000020');
    expect(text.out).toContain(`< ${Buffer.from('JPKIAPICCTOKEN2'.padEnd(32, ' ')).toString('hex').toUpperCase()} 9000  success (32 bytes)`);
  });

  it('card reset-pin unblocks a PIN and can set a new value', async () => {
    const blocked = join(dir.path, 'blocked.json');
    expect((await cli('card', 'issue', '--ca', ca, '--definition', 'blocked-auth-pin', '--out', blocked)).code).toBe(0);
    expect((await cli('card', 'show', blocked)).out).toMatch(/auth\s+0\/3\s+BLOCKED/);
    const r = await cli('card', 'reset-pin', blocked, '--pin', 'auth', '--new-pin', '5678');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('tries 0/3 -> 3/3, new value set');
    const verify = await cli('card', 'apdu', blocked, '00A4040C0AD392F000260100000001', '00A4020C020018', '002000800435363738', '--json');
    expect(verify.out.split('\n').map((l) => (JSON.parse(l) as { sw: string }).sw)).toEqual(['9000', '9000', '9000']);
    const bad = await cli('card', 'reset-pin', blocked, '--pin', 'auth', '--new-pin', '12');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--new-pin: the auth PIN must be 4 digits');
  });

  it('card issue applies identity flags and refuses bad ones with the flag named', async () => {
    const out = join(dir.path, 'flags.json');
    const ok = await cli('card', 'issue', '--ca', ca, '--out', out, '--name', '署名　花子', '--birth', '2000-02-29', '--sex', '2', '--auth-pin', '4444', '--sign-pin', 'hanako2000');
    expect(ok.code, ok.err).toBe(0);
    const image = JSON.parse(readFileSync(out, 'utf8')) as { identity: { name: string; birth: string }; pins: { auth: { value: string }; sign: { value: string } } };
    expect(image.identity).toMatchObject({ name: '署名　花子', birth: '2000-02-29' });
    expect(image.pins.auth.value).toBe('4444');
    // Lower case is upper-cased, as the real signing apps do.
    expect(image.pins.sign.value).toBe('HANAKO2000');
    for (const [flags, message] of [
      [['--auth-pin', '12'], '--auth-pin: "12" is not 4 digits'],
      [['--sign-pin', 'abc'], '--sign-pin:'],
      [['--birth', '2000/01/01'], '--birth: "2000/01/01" is not a date YYYY-MM-DD'],
      [['--my-number', '123456789012'], 'wrong check digit'],
    ] as const) {
      const r = await cli('card', 'issue', '--ca', ca, '--out', join(dir.path, 'x.json'), ...flags);
      expect(r.code).toBe(2);
      expect(r.err).toContain(message);
    }
  });

  it('a minor card has no signature certificate', async () => {
    const out = join(dir.path, 'minor.json');
    expect((await cli('card', 'issue', '--ca', ca, '--definition', 'minor', '--out', out)).code).toBe(0);
    const show = await cli('card', 'show', out);
    expect(show.out).toContain('signature certificate: none');
    expect(show.out).not.toMatch(/^\s+sign\s/m);
  });

  it('ca init is idempotent; ca revoke publishes a CRL that openssl reads', async () => {
    const again = await cli('ca', 'init', '--dir', ca);
    expect(again.code).toBe(0);
    expect(again.out).toContain('kept existing test CA');
    const revoke = await cli('ca', 'revoke', '--dir', ca, '--card', adult, '--reason', 'affiliationChanged');
    expect(revoke.code, revoke.err).toBe(0);
    const serial = /revoked sign certificate ([0-9A-F]+)/.exec(revoke.out)?.[1];
    expect(serial).toBeDefined();
    const crl = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', join(ca, 'sign.crl'), '-noout', '-text'], { encoding: 'utf8' });
    expect(crl).toContain(`Serial Number: ${serial}`);
    expect(crl).toContain('Affiliation Changed');
    const twice = await cli('ca', 'revoke', '--dir', ca, '--card', adult, '--reason', 'keyCompromise');
    expect(twice.out).toContain('was already revoked');
  });

  it('reports bad input with a message and a non-zero exit', async () => {
    const badHex = await cli('card', 'apdu', adult, '00A4ZZ');
    expect(badHex.code).toBe(2);
    expect(badHex.err).toContain('not a hex byte string');
    const missing = await cli('card', 'show', join(dir.path, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("create one with 'jpki-hil card issue");
    const noCa = await cli('ca', 'revoke', '--dir', join(dir.path, 'no-ca'), '--card', adult);
    expect(noCa.code).toBe(2);
    expect(noCa.err).toContain('jpki-hil ca init --dir');
    const unknown = await cli('card', 'frobnicate');
    expect(unknown.code).toBe(2);
  });

  it('every command has --help', async () => {
    for (const argv of [['--help'], ['card', '--help'], ['card', 'issue', '--help'], ['card', 'apdu', '--help'], ['ca', 'revoke', '--help'], ['demo', '--help']]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.out).toMatch(/Options:|Commands:/);
    }
  });
});
