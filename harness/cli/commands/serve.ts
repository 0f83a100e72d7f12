/**
 * `jpki-hil card serve` runs a card image as the card in pcscd's virtual reader (vsmartcard vpcd),
 * or as a contactless card through an NFC bridge (an NCI controller on a serial port), with a
 * control API on loopback; `jpki-hil card ctl` talks to that API.
 */
import { createWriteStream, existsSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import type { FastifyInstance } from 'fastify';
import {
  buildControlApp,
  kDefaultBaudRate,
  kVpcdPort,
  NciCardHost,
  openCardFile,
  openSerialLink,
  ServedCard,
  VpcdConnection,
  writeFileAtomic,
  type CardSlot,
  type CardState,
} from '../../../emulator/index.js';
import { defaultVpcdHost } from '../../readers/pcsc-environment.js';
import { UserError } from '../errors.js';
import type { CommandContext } from '../command.js';

/** Written next to the card image while it is served, so that `card ctl --card` finds the API. */
export const controlFileOf = (card: string): string => `${resolve(card)}.ctl.json`;

interface ControlFile {
  url: string;
  pid: number;
  /** Where the card is served: vpcd host:port, or the NFC bridge's serial port. */
  vpcd?: string;
  nci?: string;
}

interface ServeArgs {
  card: string;
  vpcd?: string | undefined;
  slot: number;
  trace?: string | undefined;
  controlPort: number;
  nci?: string | undefined;
  baud: number;
  nfcA: boolean;
}

/** Opens the control API on loopback and writes the control file next to the card image. */
async function openControl(served: ServedCard, slot: CardSlot, transport: 'vpcd' | 'nci', args: ServeArgs, where: string): Promise<{ app: FastifyInstance; url: string; controlFile: string }> {
  const app = buildControlApp(served, slot, transport);
  let url: string;
  try {
    url = await app.listen({ host: '127.0.0.1', port: args.controlPort });
  } catch (e) {
    throw new UserError(`cannot open the control API on 127.0.0.1:${args.controlPort}: ${(e as Error).message}`);
  }
  const controlFile = controlFileOf(args.card);
  writeFileAtomic(controlFile, `${JSON.stringify({ url, pid: process.pid, [transport]: where } satisfies ControlFile)}\n`);
  return { app, url, controlFile };
}

function parseHostPort(text: string, slot: number): { host: string; port: number } {
  const m = /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UserError(`--vpcd "${text}" is not host or host:port`);
  const port = m[2] === undefined ? kVpcdPort + slot : Number(m[2]);
  if (port < 1 || port > 65535) throw new UserError(`--vpcd port ${port} is out of range`);
  return { host: m[1]!, port };
}

async function serve(ctx: CommandContext, args: ServeArgs): Promise<void> {
  const log = (line: string): void => ctx.io.err(`card serve: ${line}`);
  let card;
  try {
    card = openCardFile(args.card, { logger: { error: log } }, 'jpki-hil card serve');
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  let trace: WriteStream | undefined;
  if (args.trace) trace = createWriteStream(resolve(args.trace), { flags: 'a' });
  const served = new ServedCard(card, trace ? (record) => trace.write(`${JSON.stringify(record)}\n`) : undefined);
  const endTrace = (): Promise<void> => new Promise<void>((done) => (trace ? trace.end(done) : done()));
  if (args.nci) return serveNci(ctx, args, args.nci, served, log, endTrace);

  const { host, port } = args.vpcd ? parseHostPort(args.vpcd, args.slot) : { host: defaultVpcdHost(), port: kVpcdPort + args.slot };
  const vpcd = new VpcdConnection(served, { host, port, log });
  vpcd.on('state', (state) => log(`card ${state}${state === 'inserted' ? ` (vpcd ${vpcd.address})` : ''}`));

  const { app, url, controlFile } = await openControl(served, vpcd, 'vpcd', args, vpcd.address);
  ctx.io.out(`serving ${resolve(args.card)} ("${card.store.image.label}") to vpcd at ${vpcd.address}`);
  ctx.io.out(`control API: ${url}  (written to ${controlFile})`);
  if (host !== '127.0.0.2') log('the quickack route is not in use: expect ~44 ms per APDU (see jpki-hil doctor)');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: removing the card and stopping`);
    vpcd.stop();
    await app.close();
    rmSync(controlFile, { force: true });
    await endTrace();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  void vpcd.insert();
  // Keep running until a signal: the control API's server holds the event loop.
  await new Promise<never>(() => undefined);
}

/**
 * Serves the card through an NFC bridge: the NCI host drives the controller on the serial port and
 * answers the reader's APDUs. Runs until a signal (exit 0) or until the host stops on its own — the
 * port gone, a controller that will not initialise — which ends the command with the reason (exit 1).
 */
async function serveNci(ctx: CommandContext, args: ServeArgs, path: string, served: ServedCard, log: (line: string) => void, endTrace: () => Promise<void>): Promise<void> {
  let link;
  try {
    link = await openSerialLink({ path, baudRate: args.baud });
  } catch (e) {
    await endTrace();
    throw new UserError(`${(e as Error).message} (jpki-hil doctor --nci ${path} checks the bridge)`);
  }
  const host = new NciCardHost(served, link, { technologies: args.nfcA ? ['B', 'A'] : ['B'] });
  // The reason the host stops ends the command as its error message: not twice.
  host.on('log', (line) => {
    if (line !== host.error?.message) log(line);
  });
  host.on('state', (state) => log(`card ${state}${state === 'listening' ? ` (NFC controller on ${host.address})` : ''}`));
  host.on('field', (on) => log(`reader field ${on ? 'on' : 'off'}`));

  let control;
  try {
    control = await openControl(served, host, 'nci', args, host.address);
  } catch (e) {
    await host.stop();
    await endTrace();
    throw e;
  }
  const { app, url, controlFile } = control;
  const cleanUp = async (): Promise<void> => {
    await app.close();
    rmSync(controlFile, { force: true });
    await endTrace();
  };
  ctx.io.out(`serving ${resolve(args.card)} ("${served.card.store.image.label}") over the NFC bridge on ${host.address} (${host.technologies.map((t) => `NFC-${t}`).join(' and ')})`);
  ctx.io.out(`control API: ${url}  (written to ${controlFile})`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: taking the card out of the field and stopping`);
    await host.stop();
    await cleanUp();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A failed start shows up as the host stopping with the reason.
  host.start().catch(() => undefined);
  const error = await host.stopped;
  if (stopping) await new Promise<never>(() => undefined);
  await cleanUp();
  throw new UserError(error?.message ?? `the NFC bridge on ${host.address} stopped`);
}

function controlUrl(card: string | undefined, url: string | undefined): string {
  if (url) return url.replace(/\/$/, '');
  if (!card) throw new UserError('name the served card with --card <card.json> (or give --url of its control API)');
  const file = controlFileOf(card);
  if (!existsSync(file)) throw new UserError(`${card} is not being served (no ${file}); start it with: jpki-hil card serve --card ${card}`);
  return (JSON.parse(readFileSync(file, 'utf8')) as ControlFile).url;
}

async function control(ctx: CommandContext, base: string, method: string, path: string, body?: unknown): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new UserError(`cannot reach the control API at ${base} (${(e as Error).message}); is 'card serve' still running?`);
  }
  const text = await response.text();
  if (!response.ok) throw new UserError(`control API answered ${response.status}: ${text}`);
  const state = JSON.parse(text) as CardState;
  ctx.io.out(JSON.stringify(state, null, 2));
}

export function registerServeCommands(card: Argv, ctx: CommandContext): Argv {
  return card
    .command(
      'serve',
      "Serve a card image as the card in pcscd's virtual reader (vsmartcard vpcd) or, with --nci, as a contactless card through an NFC bridge, with a control API",
      (y) =>
        y
          .option('card', { type: 'string', demandOption: true, describe: 'Card image to serve (PIN state is saved to it)' })
          .option('vpcd', { type: 'string', describe: 'vpcd host[:port]', defaultDescription: '127.0.0.2 with the quickack route, else 127.0.0.1; port 35963 + slot' })
          .option('slot', { type: 'number', choices: [0, 1], default: 0, describe: 'vpcd slot: reader "Virtual PCD 00 00" or "00 01"' })
          .option('trace', { type: 'string', describe: 'Append one JSON line per APDU exchange to this file (PIN data masked; the card\'s reason for an error beside its SW)' })
          .option('control-port', { type: 'number', default: 0, describe: 'Loopback port of the control API (0: any free port)' })
          .option('nci', { type: 'string', describe: 'Serve over an NFC bridge: the serial port of the NCI controller (see docs/nci-bridge.md)' })
          .option('baud', { type: 'number', default: kDefaultBaudRate, describe: 'With --nci: the serial baud rate' })
          .option('nfc-a', { type: 'boolean', default: false, describe: 'With --nci: listen for NFC-A as well as NFC-B' })
          .conflicts('nci', 'vpcd')
          .check((a) => {
            if (!Number.isInteger(a.baud) || a.baud <= 0) throw new Error(`--baud ${a.baud} is not a baud rate (e.g. 115200 or 921600)`);
            return true;
          })
          .example('$0 card serve --card out/cards/adult.json --trace out/trace.jsonl', 'then: opensc-tool -l')
          .example('$0 card serve --card out/cards/adult.json --nci /dev/ttyACM0', 'then tap a phone or a reader on the antenna'),
      (args) =>
        serve(ctx, {
          card: args.card,
          vpcd: args.vpcd,
          slot: args.slot,
          trace: args.trace,
          controlPort: args['control-port'],
          nci: args.nci,
          baud: args.baud,
          nfcA: args['nfc-a'],
        }),
    )
    .command(
      'ctl <action>',
      'Control a served card: state, remove, insert, tear, latency',
      (y) =>
        y
          .positional('action', { choices: ['state', 'remove', 'insert', 'tear', 'latency'] as const, demandOption: true })
          .option('card', { type: 'string', describe: 'The served card image' })
          .option('url', { type: 'string', describe: 'Control API URL instead of --card' })
          .option('ins', { type: 'string', describe: 'tear/latency: INS byte in hex, e.g. 2A' })
          .option('when', { choices: ['before', 'after'] as const, default: 'before' as const, describe: 'tear: cut power before or after the command takes effect' })
          .option('ms', { type: 'number', describe: 'latency: delay in milliseconds (0 removes it)' })
          .option('cancel', { type: 'boolean', default: false, describe: 'tear: disarm a pending tear' })
          .example('$0 card ctl remove --card out/cards/adult.json', 'take the card out of the reader')
          .example('$0 card ctl tear --card out/cards/adult.json --ins 20 --when after', 'cut power right after the next VERIFY'),
      async (args) => {
        const base = controlUrl(args.card, args.url);
        const needIns = (): string => {
          if (!args.ins || !/^[0-9A-Fa-f]{2}$/.test(args.ins)) throw new UserError(`${args.action} needs --ins <hex byte>, e.g. --ins 2A`);
          return args.ins.toUpperCase();
        };
        switch (args.action) {
          case 'state':
            return control(ctx, base, 'GET', '/state');
          case 'remove':
          case 'insert':
            return control(ctx, base, 'POST', `/${args.action}`);
          case 'tear':
            return args.cancel ? control(ctx, base, 'DELETE', '/tear') : control(ctx, base, 'POST', '/tear', { ins: needIns(), when: args.when });
          case 'latency':
            if (args.ms === undefined || !Number.isInteger(args.ms) || args.ms < 0) throw new UserError('latency needs --ms <whole milliseconds>');
            return control(ctx, base, 'POST', '/latency', { ins: needIns(), ms: args.ms });
        }
      },
    );
}
