/** Every portal's error registry: complete answers, and its table in the docs in step with it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kCitizenErrors } from '../../../harness/portal/citizen/errors.js';
import { kIdpErrors } from '../../../harness/portal/idp/errors.js';
import { kPortalErrors } from '../../../harness/portal/mynaportal/errors.js';
import { kMyPageErrors } from '../../../harness/portal/mypage/errors.js';
import { isRegistryCode, registryErrorClass, type ErrorRegistry } from '../../../harness/portal/shared/errors.js';
import { kPackageRoot } from '../../support/cards.js';

interface DocumentedRegistry {
  portal: string;
  registry: ErrorRegistry<string>;
  /** The docs file, and the heading whose section holds the table. */
  doc: string;
  heading: string;
  /** The table's third column is the registry's message (otherwise prose on when the code is given). */
  messages: boolean;
}

const kRegistries: DocumentedRegistry[] = [
  { portal: 'the Mynaportal-like portal', registry: kPortalErrors, doc: 'portal-errors.md', heading: '# Portal error codes', messages: false },
  { portal: 'the city portal', registry: kCitizenErrors, doc: 'portal-errors.md', heading: '### City portal', messages: true },
  { portal: 'My Page', registry: kMyPageErrors, doc: 'portal-errors.md', heading: '### My Page', messages: true },
  { portal: 'the identity provider', registry: kIdpErrors, doc: 'portal-errors.md', heading: '### Identity provider', messages: true },
];

/** The lines of the section that starts with `heading`, up to the next heading. */
function section(doc: string, heading: string): string {
  const lines = readFileSync(join(kPackageRoot, 'docs', doc), 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(heading));
  expect(start, `${doc} has a section "${heading}"`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, i) => i > start && line.startsWith('#'));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** `| \`code\` | status | third column |` rows. */
function documentedRows(text: string): { code: string; status: number; third: string }[] {
  return [...text.matchAll(/^\| `([A-Za-z_]+)` \| (\d{3}) \| (.*) \|$/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]), third: m[3]! }));
}

describe.each(kRegistries)('the error registry of $portal', ({ registry, doc, heading, messages }) => {
  const codes = Object.keys(registry);

  it('gives every code an error status and a Japanese message that ends a sentence', () => {
    for (const code of codes) {
      const { status, message } = registry[code]!;
      expect(status >= 400 && status <= 599, `${code} status ${status}`).toBe(true);
      expect(message, code).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
      expect(message.endsWith('。'), `${code} message ends a sentence`).toBe(true);
    }
  });

  it(`is documented in docs/${doc}: exactly the same codes, with the same statuses`, () => {
    const rows = documentedRows(section(doc, heading));
    expect(rows.map((row) => row.code).sort()).toEqual([...codes].sort());
    for (const row of rows) {
      expect(row.status, row.code).toBe(registry[row.code]!.status);
      if (messages) expect(row.third, row.code).toBe(registry[row.code]!.message);
    }
  });
});

describe('the error base', () => {
  const registry = { USED: { status: 409, message: '使用済みです。' } } as const;
  class TestError extends registryErrorClass('TestError', registry) {}

  it('takes status and message from the registry, the note after the message, the detail only when asked', () => {
    const error = new TestError('USED', 'used at 12:00', '（あと1分）');
    expect(error).toMatchObject({ name: 'TestError', status: 409, code: 'USED', message: 'USED: used at 12:00', userMessage: '使用済みです。（あと1分）' });
    expect(error.body(false)).toEqual({ code: 'USED', message: '使用済みです。（あと1分）' });
    expect(error.body(true)).toEqual({ code: 'USED', message: '使用済みです。（あと1分）', detail: 'used at 12:00' });
    expect(new TestError('USED').body(true)).toEqual({ code: 'USED', message: '使用済みです。' });
  });

  it('knows its own codes only, not the properties every object has', () => {
    expect(isRegistryCode(registry, 'USED')).toBe(true);
    expect(isRegistryCode(registry, 'toString')).toBe(false);
  });
});
