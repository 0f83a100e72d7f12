/**
 * One-time card-linking transactions: 「連携する」 on My Page opens one for the logged-in account and
 * shows it as a QR code and a deep link `<portal>/xid/link?tx=<id>&t=<token>`. The phone app asks
 * for the challenge, then posts the card's authentication signature over it with the basic 4; the
 * transaction is spent by the first answer, right or wrong, and lives 5 minutes. Kept in memory: a
 * restart forgets them, as their 5 minutes would anyway.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MyPageError } from './errors.js';

export const kLinkTransactionMs = 5 * 60_000;
export const kDeepLinkPath = '/xid/link';

const kMaxOpenPerAccount = 5;
const kMaxTransactions = 10_000;

export type LinkState = 'waiting' | 'challenged' | 'linked' | 'failed';

export interface LinkTransaction {
  id: string;
  tokenHash: string;
  accountId: string;
  state: LinkState;
  challenge?: Buffer;
  /** The refusal's code and message, for the PC page. */
  failure?: { code: string; message: string };
  expiresAt: number;
}

const hashOf = (token: string): Buffer => createHash('sha256').update(token).digest();

export class LinkTransactions {
  private readonly _all = new Map<string, LinkTransaction>();

  constructor(private readonly _now: () => Date) {}

  open(accountId: string): { transaction: LinkTransaction; token: string } {
    const now = this._now().getTime();
    // Expired transactions go when a new one opens; an account keeps at most a few open.
    for (const [id, t] of this._all) if (t.expiresAt <= now) this._all.delete(id);
    const mine = [...this._all.values()].filter((t) => t.accountId === accountId && (t.state === 'waiting' || t.state === 'challenged'));
    if (mine.length >= kMaxOpenPerAccount) throw new MyPageError('TOO_MANY_TRANSACTIONS', `${mine.length} linking transactions of this account are open`);
    if (this._all.size >= kMaxTransactions) throw new MyPageError('SERVER_BUSY', `${kMaxTransactions} linking transactions are open`);
    const token = randomBytes(32).toString('base64url');
    const transaction: LinkTransaction = {
      id: randomBytes(16).toString('base64url'),
      tokenHash: hashOf(token).toString('hex'),
      accountId,
      state: 'waiting',
      expiresAt: this._now().getTime() + kLinkTransactionMs,
    };
    this._all.set(transaction.id, transaction);
    return { transaction, token };
  }

  /** The transaction of a browser's account (for the waiting page). */
  ofAccount(id: string, accountId: string): LinkTransaction | undefined {
    const transaction = this._all.get(id);
    return transaction?.accountId === accountId ? transaction : undefined;
  }

  /** The transaction the phone names, if its token matches and it can still be answered. */
  forPhone(id: string, token: string): LinkTransaction {
    const transaction = this._all.get(id);
    if (!transaction || !timingSafeEqual(hashOf(token), Buffer.from(transaction.tokenHash, 'hex'))) throw new MyPageError('TRANSACTION_UNKNOWN', 'no transaction with this id and token');
    if (transaction.state === 'linked' || transaction.state === 'failed') throw new MyPageError('TRANSACTION_USED', `the transaction is already ${transaction.state}`);
    if (this.expired(transaction)) throw new MyPageError('TRANSACTION_EXPIRED', 'the transaction is older than 5 minutes');
    return transaction;
  }

  expired(transaction: LinkTransaction): boolean {
    return transaction.expiresAt <= this._now().getTime();
  }
}
