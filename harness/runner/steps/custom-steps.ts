/**
 * Custom steps: a scenario's own TypeScript or JavaScript module, given the typed step API
 * (step-api.ts), with `with` arguments' templates resolved.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { otherCardReader } from '../../fixtures/cards.js';
import { CardActionError } from '../../agents/card-actions.js';
import { PhoneError } from '../../agents/phone/phone-http.js';
import { CardCommandError } from '../../jpki/jpki-client.js';
import { kPackageRoot } from '../../package-root.js';
import { ReaderError } from '../../readers/reader.js';
import { harnessDefect, labProblem, productDefect, StepFailure } from '../failures.js';
import type { StepRun, CustomStep, CustomStepContext } from './step-api.js';

export function resolveArgs(value: unknown, t: (text: string) => string): unknown {
  if (typeof value === 'string') return t(value);
  if (Array.isArray(value)) return value.map((v) => resolveArgs(v, t));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveArgs(v, t)]));
  return value;
}

/**
 * What `click` clicks: the element with the test id; else a button or link named exactly by the text
 * (what a person means by 「連携する」, even when a paragraph before it quotes 「連携する」); else the
 * first element showing the text.
 */

export async function customStep(module: string, exportName: string | undefined, args: Record<string, unknown>, run: StepRun): Promise<void> {
  const path = resolve(dirname(run.file), module);
  if (!existsSync(path)) throw harnessDefect(`custom step module ${path} does not exist`);
  const loaded = await importStepModule(path);
  const name = exportName ?? 'default';
  const fn = loaded[name];
  if (typeof fn !== 'function') {
    const found = Object.keys(loaded).filter((k) => typeof loaded[k] === 'function');
    throw harnessDefect(`${module} has no exported function "${name}"${found.length ? ` (it exports ${found.join(', ')})` : ''}`);
  }
  const { world } = run;
  const ctx: CustomStepContext = {
    page: world.page,
    baseUrl: world.baseUrl,
    reader: world.slot.reader,
    card: { pins: { ...world.definition.pins } },
    saved: world.saved,
    args,
    signal: run.signal,
    log: run.log,
    advanceClock: (ms) => world.clock.advance(ms),
    secret: (value) => {
      if (value !== '') world.secrets.add(value);
      return value;
    },
    fail: { product: (m) => productDefect(m), lab: (m) => labProblem(m) },
    otherCard: async (name) => {
      const issue = world.options.issueOther;
      if (!issue) throw harnessDefect('this run cannot issue other cards');
      return otherCardReader(await issue(name), name);
    },
  };
  try {
    await (fn as CustomStep)(ctx);
  } catch (e) {
    // What the card, reader or an agent threw keeps its own class; anything else is the step's bug.
    if (e instanceof StepFailure || e instanceof ReaderError || e instanceof CardCommandError || e instanceof PhoneError || e instanceof CardActionError) throw e;
    throw harnessDefect(`custom step ${module}: ${(e as Error).message ?? String(e)}`, e);
  }
}

/**
 * Loads a step module. JavaScript is imported as it is. TypeScript:
 *  - when the runner runs from its sources (vitest, tsx), their TypeScript-aware loader imports it,
 *    so the step and the runner share one copy of every harness module;
 *  - when the runner runs from dist/, a step module of this package (scenarios/…/steps/) is the
 *    copy `npm run build` compiled next to the runner's own modules, refused when older than its
 *    source; any other TypeScript file goes through tsx's loader (`tsImport`).
 */
export async function importStepModule(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path);
  const url = pathToFileURL(path).href;
  if ((ext !== '.ts' && ext !== '.mts') || !runsFromDist()) return (await import(url)) as Record<string, unknown>;
  const built = builtCopy(path);
  if (built) return (await import(pathToFileURL(built).href)) as Record<string, unknown>;
  const { tsImport } = await import('tsx/esm/api');
  try {
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  } catch (e) {
    throw harnessDefect(`${path} does not load: ${(e as Error).message.split('\n')[0]}`, e);
  }
}

function runsFromDist(): boolean {
  return fileURLToPath(import.meta.url).startsWith(join(kPackageRoot, 'dist') + sep);
}

/** dist/<path>.js for a TypeScript file of this package; undefined for one outside it. */
function builtCopy(path: string): string | undefined {
  const inPackage = relative(kPackageRoot, resolve(path));
  if (inPackage.startsWith('..') || isAbsolute(inPackage) || inPackage.startsWith(`dist${sep}`) || inPackage.startsWith(`node_modules${sep}`)) return undefined;
  const built = join(kPackageRoot, 'dist', inPackage.replace(/\.m?ts$/, (m) => (m === '.mts' ? '.mjs' : '.js')));
  if (!existsSync(built)) return undefined;
  if (statSync(path).mtimeMs > statSync(built).mtimeMs + 1) {
    throw harnessDefect(`${inPackage} is newer than its build ${relative(kPackageRoot, built)}: run \`npm run build\` in ${kPackageRoot}`);
  }
  return built;
}
