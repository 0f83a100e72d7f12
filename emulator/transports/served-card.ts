/**
 * A card as a transport serves it: the runtime plus what a lab injects between reader and card —
 * latency per INS, and tearing (power cut at the next APDU with a given INS, before or after the
 * card acts on it). Transports (vpcd, NCI) call `exchange` and act on a tear by dropping the card.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { answerDetail, type Card } from '../card/card.js';
import { equalBytes, hexByte } from '../../iso7816/bytes.js';
import { traceExchange, type ApduTrace, type TearMoment } from '../../iso7816/apdu-trace.js';

export type { TearMoment };

export interface TearPlan {
  ins: number;
  when: TearMoment;
}

/** One exchange of the served card, as the vpcd trace and the control API give it. */
export type TraceRecord = ApduTrace;

export type ExchangeResult = { kind: 'response'; response: Uint8Array } | { kind: 'torn'; when: TearMoment };

export class ServedCard {
  private readonly _latency = new Map<number, number>();
  private _tear: TearPlan | undefined;
  private _exchanges = 0;
  private _last: { command: Uint8Array; response: Uint8Array } | undefined;

  constructor(
    readonly card: Card,
    private readonly _onTrace?: (record: TraceRecord) => void,
  ) {}

  get exchanges(): number {
    return this._exchanges;
  }

  /**
   * Why the card gave its last answer, for a host in the same process that sees the answer come back
   * through pcscd (which carries only the bytes): the detail when `command` and `response` are the
   * bytes of the last exchange.
   */
  detailOf(command: Uint8Array, response: Uint8Array): string | undefined {
    const last = this._last;
    if (!last || !equalBytes(last.command, command) || !equalBytes(last.response, response)) return undefined;
    return answerDetail(last.response);
  }

  /** Delay every response to INS `ins` by `ms` (0 removes the delay). */
  setLatency(ins: number, ms: number): void {
    if (ms <= 0) this._latency.delete(ins);
    else this._latency.set(ins, ms);
  }

  get latency(): Record<string, number> {
    return Object.fromEntries([...this._latency].map(([ins, ms]) => [hexByte(ins), ms]));
  }

  /** Arms a one-shot tear for the next APDU with this INS. */
  armTear(plan: TearPlan | undefined): void {
    this._tear = plan;
  }

  get pendingTear(): TearPlan | undefined {
    return this._tear;
  }

  /**
   * The exchange at once, when nothing makes it wait (no latency set for its INS): the transports'
   * fast path, with no promise in between. Undefined, with nothing done, when it must wait.
   */
  exchangeNow(command: Uint8Array): ExchangeResult | undefined {
    const ins = command[1];
    if (this._latency.size > 0 && ins !== undefined && this._latency.has(ins)) return undefined;
    const started = performance.now();
    const result = this._run(command, started);
    if (result.kind === 'response') this._trace(command, result.response, started);
    return result;
  }

  async exchange(command: Uint8Array): Promise<ExchangeResult> {
    const ins = command[1];
    const delay = ins === undefined ? undefined : this._latency.get(ins);
    if (!delay) return this.exchangeNow(command)!;
    const started = performance.now();
    const result = this._run(command, started);
    if (result.kind === 'response') {
      await sleep(delay);
      this._trace(command, result.response, started);
    }
    return result;
  }

  private _run(command: Uint8Array, started: number): ExchangeResult {
    // vpcd powers the card on before any APDU; a stray APDU after power-off gets a powered card.
    if (!this.card.powered) this.card.powerOn();
    const ins = command[1];
    const tear = this._tear && ins === this._tear.ins ? this._tear : undefined;
    if (tear) this._tear = undefined;
    if (tear?.when === 'before') {
      this.card.powerOff();
      this._trace(command, undefined, started, 'before');
      return { kind: 'torn', when: 'before' };
    }
    const response = this.card.transmit(command);
    this._exchanges++;
    // The reason is looked up only when a host asks (detailOf), not on every exchange.
    this._last = { command: command.slice(), response };
    if (tear?.when === 'after') {
      this.card.powerOff();
      this._trace(command, response, started, 'after');
      return { kind: 'torn', when: 'after' };
    }
    return { kind: 'response', response };
  }

  private _trace(command: Uint8Array, response: Uint8Array | undefined, started: number, torn?: TearMoment): void {
    if (!this._onTrace) return;
    this._onTrace(traceExchange(command, response, started, { detail: response ? answerDetail(response) : undefined, torn, noResponse: `power cut ${torn} the command took effect` }));
  }
}
