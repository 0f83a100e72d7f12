/**
 * What bounds the portal's state and connections: how many event streams one browser session and
 * the whole portal keep open, and how many QR sessions may wait at once. Over a per-session limit
 * the portal answers 429 (that browser is asking too much); over a total limit 503 (the portal is
 * full, whoever asks).
 */
export interface PortalLimits {
  /** Event streams (QR and signing pages) one browser session keeps open at once. */
  streamsPerSession: number;
  /** Event streams the portal keeps open at once. */
  streamsTotal: number;
  /** QR sessions one browser session may have waiting at once. */
  qrSessionsPerSession: number;
  /** QR sessions the portal keeps waiting at once. */
  qrSessionsTotal: number;
}

/** A person has a tab or two open; a script opening thousands is refused long before memory runs out. */
export const kDefaultPortalLimits: PortalLimits = { streamsPerSession: 4, streamsTotal: 1000, qrSessionsPerSession: 8, qrSessionsTotal: 10_000 };

/** Counts open streams per owner and in all. */
export class StreamCounter {
  private readonly _perOwner = new Map<string, number>();
  private _total = 0;

  constructor(private readonly _limits: Pick<PortalLimits, 'streamsPerSession' | 'streamsTotal'>) {}

  get total(): number {
    return this._total;
  }

  /** Takes a place for `owner`: the function that gives it back, or which limit is reached. */
  open(owner: string): { release: () => void } | { refused: 'session' | 'total' } {
    const mine = this._perOwner.get(owner) ?? 0;
    if (mine >= this._limits.streamsPerSession) return { refused: 'session' };
    if (this._total >= this._limits.streamsTotal) return { refused: 'total' };
    this._perOwner.set(owner, mine + 1);
    this._total += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this._total -= 1;
        const left = (this._perOwner.get(owner) ?? 1) - 1;
        if (left <= 0) this._perOwner.delete(owner);
        else this._perOwner.set(owner, left);
      },
    };
  }
}
