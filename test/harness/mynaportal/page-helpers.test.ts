/** The small pieces pages are made of: escaping, JST dates, the B-01 rules, agent messages. */
import { describe, expect, it } from 'vitest';
import { defaultFormValues, validateAccountForm, type AccountFormValues } from '../../../harness/portal/mynaportal/account-form.js';
import { agentMessage, kAgentMessages, wrongPinMessage } from '../../../harness/portal/mynaportal/agent-messages.js';
import { html, jsonData } from '../../../harness/portal/shared/html.js';
import { formatJstDate, formatJstDateTime } from '../../../common/jst.js';

describe('html', () => {
  it('escapes every interpolated string, once', () => {
    const name = `<script>alert("x")</script> & 'y'`;
    const inner = html`<b>${name}</b>`;
    expect(html`<p title="${name}">${inner}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"><b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</b></p>',
    );
  });

  it('renders lists, and nothing for null, undefined and false', () => {
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.value).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`[${null}${undefined}${false}${0}]`.value).toBe('[0]');
  });

  it('keeps JSON data from closing its script element', () => {
    const out = jsonData('d', { text: '</script><script>alert(1)</script>' }).value;
    expect(out).not.toContain('</script><script>');
    expect(JSON.parse(/>(.*)<\/script>$/.exec(out)![1]!)).toEqual({ text: '</script><script>alert(1)</script>' });
  });
});

describe('JST formatting', () => {
  it("writes the guide's forms, in Japan time whatever the machine's zone", () => {
    expect(formatJstDateTime(new Date('2017-10-02T09:00:00Z'))).toBe('2017年10月2日 18:00');
    expect(formatJstDate(new Date('2020-10-10T14:59:59Z'))).toBe('2020年10月10日');
    // 15:00 UTC is already the next day in Japan.
    expect(formatJstDate(new Date('2020-10-10T15:00:00Z'))).toBe('2020年10月11日');
    expect(formatJstDateTime(new Date('2026-01-01T00:05:00Z'))).toBe('2026年1月1日 09:05');
    expect(() => formatJstDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('the B-01 rules', () => {
  const valid = (change: Partial<AccountFormValues>): ReturnType<typeof validateAccountForm> =>
    validateAccountForm({ ...defaultFormValues(), nickname: 'マイナ父', email1: 'a@example.com', email1Confirm: 'a@example.com', ...change });

  it('accepts the guide example and keeps the check boxes', () => {
    const result = valid({});
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.draft).toMatchObject({ nickname: 'マイナ父', email1: 'a@example.com', email2: '', language: 'ja', flags: { notifyInfo: true, notifyOtherSites: false } });
  });

  it('counts the nickname in characters: 20 pass, 21 do not', () => {
    expect(valid({ nickname: '𠮷'.repeat(20) }).ok).toBe(true);
    expect(valid({ nickname: '𠮷'.repeat(21) })).toMatchObject({ ok: false, errors: { nickname: 'ニックネームは20文字以内で入力してください。' } });
    expect(valid({ nickname: '' })).toMatchObject({ ok: false, errors: { nickname: 'ニックネームを入力してください。' } });
  });

  it('checks addresses: half-width, confirmed, address 2 different from address 1', () => {
    expect(valid({ email1: 'ａ@example.com', email1Confirm: 'ａ@example.com' })).toMatchObject({ ok: false, errors: { email1: expect.stringMatching(/半角英数字/) } });
    expect(valid({ email1Confirm: 'b@example.com' })).toMatchObject({ ok: false, errors: { email1Confirm: expect.stringMatching(/一致しません/) } });
    expect(valid({ email2: 'A@example.com', email2Confirm: 'A@example.com' })).toMatchObject({ ok: false, errors: { email2: '通知先メールアドレス1と同じアドレスは登録できません。' } });
    expect(valid({ email2: 'c@example.com', email2Confirm: 'd@example.com' })).toMatchObject({ ok: false, errors: { email2Confirm: expect.stringMatching(/一致しません/) } });
    expect(valid({ email1: '', email1Confirm: '' }).ok).toBe(true);
  });

  it('allows 日本語 only', () => {
    expect(valid({ languageEn: true })).toMatchObject({ ok: false, errors: { language: '日本語のみ選択できます。' } });
    expect(valid({ languageJa: false })).toMatchObject({ ok: false, errors: { language: expect.stringMatching(/日本語/) } });
  });
});

describe('agent messages', () => {
  it('says how many PIN tries are left, and what to do when the PIN is blocked', () => {
    expect(wrongPinMessage(2)).toBe('暗証番号が違います。残り2回間違えるとロックされます。');
    expect(wrongPinMessage(undefined)).toBe('暗証番号が違います。');
    expect(agentMessage('WRONG_PIN', 1)).toBe('暗証番号が違います。残り1回間違えるとロックされます。');
    expect(agentMessage('PIN_BLOCKED')).toContain('市区町村窓口にてパスワード初期化を申請してください');
    expect(agentMessage('AGENT_UNREACHABLE')).toMatch(/^ICカードリーダ用のソフトウェアが起動していません/);
    expect(agentMessage('SOMETHING_NEW')).toContain('SOMETHING_NEW');
    for (const code of Object.keys(kAgentMessages)) expect(agentMessage(code)).not.toBe('');
  });
});
