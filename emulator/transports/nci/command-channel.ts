/**
 * The NCI host's command channel: one command outstanding at a time (as NCI allows), each with a
 * timeout, its response matched by GID and OID; and the CORE_RESET_NTF an initialisation waits for
 * after CORE_RESET_RSP. Commands carry the epoch of the initialisation that sent them: once that
 * initialisation is superseded they fail with StaleError instead of going out.
 */
import { NciHostError, StaleError } from './host-errors.js';
import type { HostTimers } from './host-timers.js';
import { describeMessage, describeStatus, kNciStatus, messageName, parseCoreResetNotification, type CoreResetNotification } from './messages.js';
import { controlMessage, type NciControlMessage, type NciMessage } from './packet.js';

export interface CommandChannelDeps {
  timers: HostTimers;
  timeoutMs: number;
  send(message: NciMessage): void;
  log(line: string): void;
  /** True while commands of this epoch may still go out. */
  isCurrent(epoch: number): boolean;
}

interface PendingCommand {
  gid: number;
  oid: number;
  resolve(payload: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ResetWaiter {
  resolve(notification: CoreResetNotification): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/** The CORE_RESET_NTF that follows a CORE_RESET_CMD, as one initialisation awaits it. */
export interface ResetNotificationWait {
  /** The notification, once it has come. */
  received(): CoreResetNotification | undefined;
  /** Waits for it, within the command timeout from now. */
  wait(): Promise<CoreResetNotification>;
  /** None is coming (an NCI 1.x controller answers in the response). */
  forget(): void;
}

export class CommandChannel {
  private _pending: PendingCommand | undefined;
  private _resetWaiter: ResetWaiter | undefined;

  constructor(private readonly _deps: CommandChannelDeps) {}

  command(epoch: number, gid: number, oid: number, payload: ArrayLike<number>): Promise<Uint8Array> {
    if (!this._deps.isCurrent(epoch)) return Promise.reject(new StaleError());
    const { timers, timeoutMs } = this._deps;
    const name = messageName('command', gid, oid);
    return new Promise((resolve, reject) => {
      const timer = timers.start(timeoutMs, () => {
        if (this._pending?.timer !== timer) return;
        this._pending = undefined;
        reject(new NciHostError(`no answer to ${name} within ${timeoutMs} ms`));
      });
      this._pending = { gid, oid, resolve, reject, timer };
      this._deps.send(controlMessage('command', gid, oid, payload));
    });
  }

  /** A command whose response is just a status, which must be OK. */
  async okCommand(epoch: number, gid: number, oid: number, payload: ArrayLike<number>): Promise<void> {
    const status = (await this.command(epoch, gid, oid, payload))[0];
    if (status !== kNciStatus.ok) throw new NciHostError(`${messageName('command', gid, oid)} answered ${describeStatus(status)}`);
  }

  response(message: NciControlMessage): void {
    const pending = this._pending;
    if (!pending || pending.gid !== message.gid || pending.oid !== message.oid) {
      this._deps.log(`unexpected ${describeMessage(message)} (no such command is waiting): ignored`);
      return;
    }
    this._pending = undefined;
    this._deps.timers.clear(pending.timer);
    pending.resolve(message.payload);
  }

  /** From now on, the next CORE_RESET_NTF belongs to the caller. */
  expectResetNotification(): ResetNotificationWait {
    let notification: CoreResetNotification | undefined;
    const ntf = new Promise<CoreResetNotification>((resolve, reject) => (this._resetWaiter = { resolve, reject }));
    ntf.then((n) => (notification = n)).catch(() => undefined);
    return {
      received: () => notification,
      wait: () => {
        const waiter = this._resetWaiter;
        if (waiter) {
          const { timers, timeoutMs } = this._deps;
          waiter.timer = timers.start(timeoutMs, () => {
            if (this._resetWaiter !== waiter) return;
            this._resetWaiter = undefined;
            waiter.reject(new NciHostError(`no CORE_RESET_NTF within ${timeoutMs} ms of CORE_RESET_RSP`));
          });
        }
        return ntf;
      },
      forget: () => {
        this._resetWaiter = undefined;
      },
    };
  }

  /** Hands a CORE_RESET_NTF to the initialisation waiting for it; false when none waits. */
  takeResetNotification(payload: Uint8Array): boolean {
    const waiter = this._resetWaiter;
    if (!waiter) return false;
    this._resetWaiter = undefined;
    this._deps.timers.clear(waiter.timer);
    try {
      waiter.resolve(parseCoreResetNotification(payload));
    } catch (e) {
      waiter.reject(e as Error);
    }
    return true;
  }

  /** Fails the command and the reset wait in progress with `error`. */
  abort(error: Error): void {
    const pending = this._pending;
    this._pending = undefined;
    if (pending) {
      this._deps.timers.clear(pending.timer);
      pending.reject(error);
    }
    const waiter = this._resetWaiter;
    this._resetWaiter = undefined;
    if (waiter) {
      this._deps.timers.clear(waiter.timer);
      waiter.reject(error);
    }
  }
}
