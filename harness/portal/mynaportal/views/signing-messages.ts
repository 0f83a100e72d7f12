/**
 * What the application pages say when the signing app reports a failure, and how a revocation
 * reason reads. The signing app's codes are the card-action codes plus the app's own; the portal
 * never answers with them, it only relays them to the PC page.
 *
 * The PIN_BLOCKED advice is the LoGo form / マイナサイン guide's (seed 003): 「パスワードを5回連続で
 * 間違えるとマイナンバーカードがロックされます。ロックされた場合は、市区町村窓口にてパスワード初期化を
 * 申請してください。」
 */
import { agentMessage } from '../agent-messages.js';

export const kSigningAppMessages = {
  WRONG_PIN: '署名用電子証明書のパスワードが違います。',
  PIN_BLOCKED: '署名用電子証明書のパスワードがロックされています。ロックされた場合は、市区町村窓口にてパスワード初期化を申請してください。',
  NO_SIGNATURE_CERTIFICATE:
    'このマイナンバーカードには署名用電子証明書が搭載されていません。署名用電子証明書は、原則として15歳未満の方には発行されないため、電子署名が必要な申請はできません。',
} as const;

/** The tries left after a wrong signature password. */
export function wrongSignPasswordMessage(triesLeft: number | undefined): string {
  if (triesLeft === undefined || !Number.isInteger(triesLeft) || triesLeft < 0) return kSigningAppMessages.WRONG_PIN;
  return `${kSigningAppMessages.WRONG_PIN}残り${triesLeft}回間違えるとロックされます。`;
}

export function signingAppMessage(code: string, triesLeft?: number): string {
  if (code === 'WRONG_PIN') return wrongSignPasswordMessage(triesLeft);
  return Object.hasOwn(kSigningAppMessages, code) ? kSigningAppMessages[code as keyof typeof kSigningAppMessages] : agentMessage(code);
}

/** RFC 5280 reasons (as the verifier names them) in the words of the JPKI guides. */
const kRevocationReasons: Record<string, string> = {
  unspecified: '理由の記載なし',
  keyCompromise: '鍵の危殆化（カードの紛失・盗難など）',
  cACompromise: '認証局の危殆化',
  affiliationChanged: '記載事項の変更（転居・婚姻など）',
  superseded: '電子証明書の再発行',
  cessationOfOperation: '電子証明書の廃止',
  certificateHold: '一時保留',
  removeFromCRL: '保留の解除',
  privilegeWithdrawn: '権限の取り消し',
  aACompromise: '属性認証局の危殆化',
};

export function revocationReasonText(reason: string): string {
  return kRevocationReasons[reason] ?? reason;
}
