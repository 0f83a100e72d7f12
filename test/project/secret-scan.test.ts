/**
 * The artifact scanner the secret tests rely on: it must find a PIN however a trace would show it,
 * and must not cry wolf at a number that only looks like one (a Playwright timestamp).
 */
import { describe, expect, it } from 'vitest';
import { findSecrets } from '../support/secret-scan.js';

describe('findSecrets', () => {
  it('finds a short PIN as a token, as hex of its ASCII bytes, and a long secret anywhere', () => {
    const found = findSecrets(
      {
        'log.txt': 'entered 3806 at the prompt',
        'trace.json': '{"command":"002000800433383036"}',
        'quoted.json': '{"pin":"3806"}',
        'page.html': 'value="xKq7pass9WORDx"',
      },
      ['3806', 'Kq7pass9WORD'],
    );
    expect(found).toEqual(['log.txt: 3806 as text', 'trace.json: 3806 in hex', 'quoted.json: 3806 as text', 'page.html: Kq7pass9WORD as text']);
  });

  it('does not take part of a longer number, a decimal or a timestamp for a PIN', () => {
    const found = findSecrets({ 'trace.trace': '{"timestamp":3806.517,"wallTime":1796299038061,"id":"x3806","v":13806,"t":12.3806}' }, ['3806']);
    expect(found).toEqual([]);
  });

  it('still finds a PIN at the end of a sentence', () => {
    expect(findSecrets({ 'run.log': 'the PIN was 3806.' }, ['3806'])).toEqual(['run.log: 3806 as text']);
  });
});
