/**
 * `jpki-hil certify --all-profiles` on the in-process emulator: every shipped profile through the
 * certification suite, the matrix checked against what each profile's declared values predict, and
 * the signed reports checked with openssl — and broken by a changed byte.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/cli/main.js';
import type { CertificationReport, MatrixReport, Verdict } from '../../harness/certification/report.js';
import { listProfiles, type DeviceProfile } from '../../harness/profiles/profile.js';
import { tempDir } from '../support/cards.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const kProbeAid = 'A0000002310100000000000000000000';

/**
 * What a profile's declared values say a scenario will do; `any` for a device with random faults
 * (the seed decides, not a rule).
 */
function predict(p: DeviceProfile, scenario: string): Verdict | 'any' {
  const phone = p.kind === 'phone';
  if (scenario === 'cert-pc-login' && phone) return 'not-applicable';
  if (scenario === 'cert-phone-qr-login' && !phone) return 'not-applicable';
  if (p.faults.fieldDropProbability > 0 || p.faults.cardMoveProbability > 0) return 'any';
  const fits256 = p.apdu.maxResponse >= 258;
  const timeout = p.timeouts.appRaisesToMs ?? p.timeouts.transceiveMs;
  const signsInTime = timeout === null || p.latency.baseMs + (p.latency.perIns['2A'] ?? 0) < timeout;
  const signs = fits256 && p.apdu.t0 === 'transparent' && signsInTime;
  const selectsProbe = !(p.select.selectByNameChecked && p.select.aidAllowList && !p.select.aidAllowList.includes(kProbeAid));
  const verdict = (ok: boolean): Verdict => (ok ? 'pass' : 'fail');
  switch (scenario) {
    case 'cert-read-certificates-chunked':
      return 'pass';
    case 'cert-read-certificates-short':
    case 'cert-card-info-basic4':
      return verdict(fits256);
    case 'cert-read-certificate-extended':
      return verdict(p.apdu.extendedLength && p.apdu.maxResponse >= 1024);
    case 'cert-sign-both-keys':
    case 'cert-pc-login':
    case 'cert-phone-qr-login':
      return verdict(signs);
    case 'cert-select-undeclared-aid':
      return verdict(selectsProbe);
    default:
      throw new Error(`no prediction for ${scenario}`);
  }
}

describe('jpki-hil certify --all-profiles on the in-process emulator', () => {
  const dir = tempDir('jpki-hil-certify-');
  const out = join(dir.path, 'out');
  const ca = join(dir.path, 'ca');
  let result: { code: number; out: string; err: string };
  let matrix: MatrixReport;
  const profiles = listProfiles();

  beforeAll(async () => {
    result = await cli('certify', '--all-profiles', '--out', out, '--ca', ca);
    matrix = JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8')) as MatrixReport;
  }, 600_000);
  afterAll(() => dir.remove());

  it('certifies every shipped profile and exits 0: devices failing scenarios is the matrix, not an error', () => {
    expect(result.code, result.err).toBe(0);
    expect(matrix.devices.map((d) => d.id).sort()).toEqual(profiles.map((p) => p.id).sort());
    expect(matrix.suiteVersion).toBe(readFileSync('scenarios/VERSION', 'utf8').trim());
    expect(result.out).toMatch(/^✓ generic-ccid-contact: certified/m);
    expect(result.out).toMatch(/^✗ pn532-uart: not certified/m);
  });

  it('the matrix matches what every profile predicts', () => {
    const mismatches: string[] = [];
    for (const p of profiles) {
      for (const s of matrix.scenarios) {
        const expected = predict(p, s.id);
        const cell = matrix.cells[p.id]?.[s.id];
        if (expected === 'any') {
          if (cell?.verdict === 'not-applicable' || !cell) mismatches.push(`${p.id} × ${s.id}: ran? ${cell?.verdict}`);
        } else if (cell?.verdict !== expected) mismatches.push(`${p.id} × ${s.id}: expected ${expected}, got ${cell?.verdict} (${cell?.reason ?? ''})`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('the cases the issue names: the 255-byte reader, the iPhone, the slow card', () => {
    const cell = (device: string, scenario: string) => matrix.cells[device]![scenario]!;
    expect(cell('pn532-uart', 'cert-read-certificate-extended').verdict).toBe('fail');
    expect(cell('pn532-uart', 'cert-read-certificates-chunked').verdict).toBe('pass');
    expect(cell('iphone-core-nfc', 'cert-select-undeclared-aid')).toMatchObject({ verdict: 'fail', reason: expect.stringMatching(/SELECT of AID A0000002310100000000000000000000 by name is refused/) });
    expect(cell('android-slow-card', 'cert-phone-qr-login')).toMatchObject({ verdict: 'fail', reason: expect.stringMatching(/618 ms transceive timeout/) });
    expect(cell('android-short-apdu', 'cert-phone-qr-login').verdict).toBe('pass');
    expect(cell('sony-rc-s380', 'cert-phone-qr-login')).toMatchObject({ verdict: 'not-applicable', reason: expect.stringMatching(/a phone flow; .* is a reader/) });
  });

  it('each device report verifies with openssl against the test CA, and a changed byte breaks it', () => {
    const json = join(out, 'pn532-uart', 'certification.json');
    const p7s = `${json}.p7s`;
    const verify = (content: string) =>
      spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', content, '-CAfile', join(ca, 'sign-ca.pem'), '-out', '/dev/null'], { encoding: 'utf8' });
    const good = verify(json);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stderr).toMatch(/Verification successful/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as CertificationReport;
    expect(report).toMatchObject({ suite: 'certification', certified: false, device: { id: 'pn532-uart', modelled: 'documentation' } });
    const tampered = join(dir.path, 'tampered.json');
    writeFileSync(tampered, readFileSync(json, 'utf8').replace('"certified": false', '"certified": true '));
    const bad = verify(tampered);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/digest failure|Verify error|verification failure/i);
  });

  it('writes the matrix page and a page per device', () => {
    const html = readFileSync(join(out, 'matrix.html'), 'utf8');
    expect(html).toMatch(/data-device="iphone-core-nfc" data-scenario="cert-select-undeclared-aid" data-verdict="fail"|data-verdict="fail"[^>]*data-device="iphone-core-nfc"/);
    expect(readFileSync(join(out, 'iphone-core-nfc', 'certification.html'), 'utf8')).toContain('iphone-core-nfc');
  });
});

describe('jpki-hil certify --profile', () => {
  const dir = tempDir('jpki-hil-certify-one-');
  afterAll(() => dir.remove());

  it('exits 0 for a certified device, writes the signed report, and refuses bad arguments', async () => {
    const out = join(dir.path, 'out');
    const r = await cli('certify', '--profile', 'generic-ccid-contact', 'scenarios/certification/read-certificates-chunked.yaml', '--out', out, '--ca', join(dir.path, 'ca'));
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/✓ generic-ccid-contact: certified — 1 pass, 0 fail, 0 not applicable/);
    expect(JSON.parse(readFileSync(join(out, 'certification.json'), 'utf8'))).toMatchObject({ certified: true, summary: { pass: 1 } });
    expect(await cli('certify')).toMatchObject({ code: 2, err: expect.stringMatching(/--profile <id or file>, or .* --all-profiles/) });
    expect(await cli('certify', '--profile', 'pn533')).toMatchObject({ code: 2, err: expect.stringMatching(/pn532-uart/) });
  });
});
