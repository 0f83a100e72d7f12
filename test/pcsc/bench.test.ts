/**
 * The benchmark runs end to end and writes every figure it promises, measured (not null) on a
 * machine with the PC/SC stack. No speed is asserted here: figures belong in the benchmark's output.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cards.js';
import { kBin } from '../support/served-card.js';
import { kPackageRoot } from '../../harness/package-root.js';

const run = promisify(execFile);


describe('jpki-hil bench', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('measures openssl, in-process (1..N threads), pcscd with and without the fix, the NFC bridge and portal logins, as a table, JSON and HTML', async () => {
    const json = join(dir.path, 'bench.json');
    const html = join(dir.path, 'bench.html');
    const { stdout, stderr } = await run(process.execPath, [kBin, 'bench', '--seconds', '1', '--workers', '2', '--cards', '3,5', '--clients', '2', '--json', json, '--html', html], {
      encoding: 'utf8',
      timeout: 280_000,
    });
    expect(stdout).toMatch(/in-process emulator, 2 worker threads/);
    expect(stdout).toMatch(/pcscd \+ vpcd, quickack route/);
    expect(stdout).toMatch(/NCI bridge over a serial line, 115200 baud +[\d,.]+ +[\d,.]+ /);
    expect(stdout).toMatch(/NCI bridge over a serial line, 921600 baud +[\d,.]+ +[\d,.]+ /);
    expect(stdout).toMatch(/median APDU round trip through the NCI bridge: [\d.]+ ms at 115200 baud, [\d.]+ ms at 921600/);
    expect(stdout).toMatch(/portal IC-card logins\/s, 3 cards/);
    expect(stdout).toMatch(/portal login latency .* p50 [\d.,]+ ms, p95 [\d.,]+ ms, p99 [\d.,]+ ms/);
    // Progress goes to stderr while the figures are measured.
    expect(stderr).toMatch(/portal: 3 clients logging in for 1 s/);
    expect(stderr).toMatch(/NCI bridge at 921600 baud/);

    const r = JSON.parse(readFileSync(json, 'utf8')) as Record<string, Record<string, unknown> | number | string>;
    expect(r.workers).toBe(2);
    const figure = (group: string, key: string): number | null => (r[group] as Record<string, number | null>)[key]!;
    for (const [group, key] of [
      ['openssl', 'single'],
      ['openssl', 'multi'],
      ['inprocess', 'single'],
      ['inprocess', 'multi'],
      ['inprocess', 'apduPerSec'],
      ['pcsc', 'apduPerSec'],
      ['pcsc', 'signPerSec'],
      ['pcscWithoutFix', 'apduPerSec'],
      ['servedProcess', 'referenceApduPerSec'],
      ['servedProcess', 'apduPerSec'],
      ['servedProcess', 'signPerSec'],
      ['servedProcess', 'signMedianMs'],
      ['servedProcess', 'selectSignPerSec'],
      ['servedProcess', 'opensslSignPerSec'],
      ['servedProcess', 'referenceCpuUsPerApdu'],
      ['servedProcess', 'apduCpuUsPerApdu'],
      ['servedProcess', 'nodeReferenceApduPerSec'],
      ['servedProcess', 'nodeReferenceCpuUsPerApdu'],
      ['servedProcess', 'apduPerSecBesideNode'],
      ['servedProcess', 'apduCpuUsPerApduBesideNode'],
      ['portal', 'loginsPerSec'],
      ['portal', 'p50Ms'],
      ['portal', 'p95Ms'],
      ['portal', 'p99Ms'],
      ['portal', 'opensslSignPerSec'],
    ]) {
      expect((r[group!] as Record<string, unknown>).reason, `${group}.reason`).toBeUndefined();
      expect(figure(group!, key!), `${group}.${key}`).toBeGreaterThan(0);
    }
    // The bridge at both baud rates, paced: at 115200 baud a SELECT (10 bytes out, 5 back) cannot
    // beat the line's 11,520 bytes/s, so a figure above ~770/s would mean the pacing is off.
    const nci = r.nci as unknown as Record<string, Record<string, number | null | undefined>>;
    for (const baud of ['baud115200', 'baud921600']) {
      expect(nci[baud]!.reason, `nci.${baud}.reason`).toBeUndefined();
      for (const key of ['apduPerSec', 'signPerSec', 'apduMedianMs']) expect(nci[baud]![key], `nci.${baud}.${key}`).toBeGreaterThan(0);
    }
    expect(nci.baud115200!.apduPerSec).toBeLessThan(11_520 / 15);
    // Every ratio with a goal is there, computed from the figures of the same run.
    const ratios = r.ratios as unknown as Record<string, number | null>;
    for (const key of ['inprocessSignVsOpenssl', 'workersSignVsOpensslMulti', 'pcscSignVsOpenssl', 'servedProcessApduVsReferenceVicc', 'servedProcessSignVsOpenssl', 'servedProcessSelectSignVsOpenssl', 'servedProcessApduCpuVsReferenceVicc', 'servedProcessApduVsNodeVicc', 'servedProcessApduCpuVsNodeVicc', 'portalLoginsVsOpenssl']) {
      expect(ratios[key], `ratios.${key}`).toBeGreaterThan(0);
    }
    expect(ratios.servedProcessApduVsReferenceVicc).toBeCloseTo(figure('servedProcess', 'apduPerSec')! / figure('servedProcess', 'referenceApduPerSec')!, 2);
    expect(stdout).toMatch(/card serve \(own process\), C client, quickack +[\d,.]+ +[\d,.]+ /);
    expect(ratios.servedProcessApduCpuVsReferenceVicc).toBeCloseTo(figure('servedProcess', 'referenceCpuUsPerApdu')! / figure('servedProcess', 'apduCpuUsPerApdu')!, 1);
    expect(stdout).toMatch(/CPU time per APDU: card serve [\d.]+ µs, the reference vicc [\d.]+ µs/);
    expect(ratios.portalLoginsVsOpenssl).toBeCloseTo(figure('portal', 'loginsPerSec')! / figure('portal', 'opensslSignPerSec')!, 2);
    expect(ratios.servedProcessApduVsNodeVicc).toBeCloseTo(figure('servedProcess', 'apduPerSecBesideNode')! / figure('servedProcess', 'nodeReferenceApduPerSec')!, 2);
    expect(stdout).toMatch(/the same reference written in Node, then in its slot +[\d,.]+ /);
    // The served card's signatures against the openssl measured between its rounds (--seconds 1: 2 rounds).
    expect((r.servedProcess as Record<string, unknown>).rounds).toBe(2);
    expect(ratios.servedProcessSignVsOpenssl).toBeCloseTo(figure('servedProcess', 'signPerSec')! / figure('servedProcess', 'opensslSignPerSec')!, 2);
    expect(stdout).toMatch(/card serve, SELECT key \+ sign per signature +[\d,.]+ +[\d.]+x/);
    // Issuance against openssl genpkey, and the population: each size measured with the same clients.
    const issuance = r.issuance as unknown as Record<string, number | null>;
    for (const key of ['cardsPerSec', 'keysPerSec', 'opensslKeysPerSec']) expect(issuance[key], `issuance.${key}`).toBeGreaterThan(0);
    expect(ratios.issuanceKeysVsOpensslGenpkey).toBeGreaterThan(0);
    const population = r.population as unknown as Record<string, number | null>[];
    expect(population.map((p) => [p.cards, p.clients])).toEqual([
      [3, 2],
      [5, 2],
    ]);
    for (const p of population) for (const key of ['loginsPerSec', 'p50Ms', 'p99Ms', 'issueSeconds', 'rssBytes', 'rssPerCardBytes']) expect(p[key], `population.${key}`).toBeGreaterThan(0);
    expect(population[1]!.rssPerCardBytes).toBeCloseTo(population[1]!.rssBytes! / 5, 0);
    expect(ratios.population5LoginsVsFirst).toBeGreaterThan(0);
    expect(stdout).toMatch(/portal logins\/s, 5 cards, 2 clients \(p99 [\d.,]+ ms\) +[\d.,]+ /);
    // The key pool on disk says what it is and holds two keys for each card of the largest size.
    const pool = readFileSync(join(kPackageRoot, 'out', 'bench', 'key-pool.pem'), 'utf8');
    expect(pool).toMatch(/^# jpki-hil benchmark key pool: RSA-2048 TEST KEYS/);
    expect((pool.match(/BEGIN PRIVATE KEY/g) ?? []).length).toBeGreaterThanOrEqual(10);
    const portal = r.portal as Record<string, unknown>;
    expect(portal.cards).toBe(3);
    expect(portal.logins).toBeGreaterThan(0);
    const [p50, p95, p99] = (['p50Ms', 'p95Ms', 'p99Ms'] as const).map((k) => figure('portal', k)!);
    expect(p50).toBeLessThanOrEqual(p95!);
    expect(p95).toBeLessThanOrEqual(p99!);
    // Each worker count up to 2 was measured, and the curve ends at the multi figure.
    const curve = (r.inprocess as { byWorkers: { workers: number; signPerSec: number }[] }).byWorkers;
    expect(curve.map((p) => p.workers)).toEqual([1, 2]);
    expect(curve.every((p) => p.signPerSec > 0)).toBe(true);
    expect(curve[1]!.signPerSec).toBe(figure('inprocess', 'multi'));

    // The HTML page holds the table and the chart; the chart is well-formed XML with the openssl line.
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('portal IC-card logins/s, 3 cards');
    expect(page).toContain('data-series="p99"');
    // Where a login's time goes: each step of the login with its mean, and the JSON has them too.
    expect(page).toContain('data-table="login-phases"');
    for (const step of ['GET /login', 'POST /api/login/nonce', 'agent sign (card)', 'POST /api/login', 'GET /menu']) {
      expect(page).toContain(`<td>${step}</td>`);
      expect((portal.phasesMs as Record<string, number>)[step], step).toBeGreaterThan(0);
    }
    expect(page).toMatch(/<title>5 cards: [\d.,]+ logins\/s<\/title>/);
    const svgs = [...page.matchAll(/<svg xmlns[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(svgs, 'the HTML page has the throughput and the population charts').toHaveLength(2);
    expect(svgs[0]).toContain('data-series="openssl"');
    expect(svgs[0]).toContain('data-series="inprocess"');
    expect(svgs[1]).toContain('data-series="logins"');
    for (const [i, svg] of svgs.entries()) {
      const file = join(dir.path, `chart-${i}.svg`);
      writeFileSync(file, svg);
      const lint = spawnSync('xmllint', ['--noout', file], { encoding: 'utf8' });
      if (lint.error) throw new Error(`xmllint is needed to check the chart (${lint.error.message}); install it with: apt-get install libxml2-utils`);
      expect(lint.stderr).toBe('');
      expect(lint.status).toBe(0);
    }
  }, 300_000);
});
