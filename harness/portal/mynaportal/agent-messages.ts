/**
 * What the pages say when the PC agent or the phone reports a failure (the agent codes of
 * docs/portal-protocols.md). The login page receives this table as JSON; the QR routes use it for
 * the `failed` event of a phone's report. Agent codes are not portal errors: the portal never
 * answers with them, it only relays them.
 *
 * The PIN_BLOCKED advice: the Mynaportal guide (seed 002) gives no wording for a locked password;
 * the wording is taken from the TASK-portal guide (seed 003): 「ロックされた場合は、市区町村窓口にて
 * パスワード初期化を申請してください。」
 */

export const kAgentMessages = {
  AGENT_UNREACHABLE:
    'ICカードリーダ用のソフトウェアが起動していません。ソフトウェアを起動してから、もう一度「ICカードリーダでログイン」を押してください。',
  NO_READER: 'ICカードリーダライタが見つかりません。ICカードリーダライタがパソコンに接続されているか確認してください。',
  NO_CARD: 'マイナンバーカードがICカードリーダライタにセットされていません。マイナンバーカードをセットしてから、もう一度お試しください。',
  CARD_REMOVED: '処理中にマイナンバーカードが取り外されました。マイナンバーカードをセットし直して、もう一度お試しください。',
  WRONG_PIN: '暗証番号が違います。',
  PIN_BLOCKED: '暗証番号がロックされています。ロックされた場合は、市区町村窓口にてパスワード初期化を申請してください。',
  CANCELLED: '暗証番号の入力が取り消されました。',
  CARD_ERROR: 'マイナンバーカードを読み取れませんでした。マイナンバーカードを正しい向きでセットし、もう一度お試しください。',
} as const;

export type AgentCode = keyof typeof kAgentMessages;

/** Shown for a code this portal does not know (a newer agent, a phone app's own code). */
export const kUnknownAgentMessage = 'マイナンバーカードの読み取り中にエラーが発生しました。もう一度お試しください。';

/** Shown when a QR code's 5 minutes run out before a phone completes the login. */
export const kQrExpiredMessage = '2次元バーコードの有効期限が切れました。もう一度「スマートフォンでログイン」を押してください。';

/** WRONG_PIN with the tries left, `{n}` standing for the number (the login script fills it in too). */
export const kWrongPinWithTries = '暗証番号が違います。残り{n}回間違えるとロックされます。';

/** "暗証番号が違います。残り2回間違えるとロックされます。" — the tries left, when the agent reports them. */
export function wrongPinMessage(triesLeft: number | undefined): string {
  if (triesLeft === undefined || !Number.isInteger(triesLeft) || triesLeft < 0) return kAgentMessages.WRONG_PIN;
  return kWrongPinWithTries.replace('{n}', String(triesLeft));
}

export function agentMessage(code: string, triesLeft?: number): string {
  if (code === 'WRONG_PIN') return wrongPinMessage(triesLeft);
  return Object.hasOwn(kAgentMessages, code) ? kAgentMessages[code as AgentCode] : `${kUnknownAgentMessage}（${code}）`;
}
