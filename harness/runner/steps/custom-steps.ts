/**
 * Custom steps: a scenario's own TypeScript or JavaScript module, given the typed step API
 * (step-api.ts), with `with` arguments' templates resolved.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 * Loads a step module; TypeScript is compiled on the fly (one file, ESM). Its imports must be
 * packages or JavaScript files — or the harness's own sources (see `compiledSpecifier`).
 */
export async function importStepModule(path: string): Promise<Record<string, unknown>> {
  const ext = extname(path);
  if (ext !== '.ts' && ext !== '.mts') return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const ts = (await import('typescript')).default;
  const output = ts.transpileModule(readFileSync(path, 'utf8'), {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: true },
    reportDiagnostics: true,
  });
  const errors = (output.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw harnessDefect(`${path} does not compile: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, ' ')}`);
  // Next to the source, so that its relative imports of JavaScript files and packages resolve as written.
  const compiled = join(dirname(path), `.${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}.jpki-hil-step.mjs`);
  try {
    writeFileSync(compiled, output.outputText.replace(kRelativeSpecifier, (_whole, before: string, quote: string, specifier: string) => `${before}${quote}${compiledSpecifier(dirname(path), specifier)}${quote}`));
    return (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  } finally {
    rmSync(compiled, { force: true });
  }
}

/** `from './x.js'`, `import './x.js'`, `import('./x.js')` in compiled JavaScript. */
export const kRelativeSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]+)\2/g;

/**
 * A step next to a scenario imports the harness as the sources name it
 * (`../../../harness/jpki/jpki-client.js`), but those .js files exist only compiled, under dist/.
 * When the runner itself runs from dist/, such a specifier is pointed at the compiled file — the
 * very module the runner uses, so classes like PinError are the same on both sides. Anything that
 * exists as written is left alone.
 */
export function compiledSpecifier(fromDir: string, specifier: string): string {
  const target = resolve(fromDir, specifier);
  if (existsSync(target)) return specifier;
  const dist = join(kPackageRoot, 'dist');
  if (!fileURLToPath(import.meta.url).startsWith(dist + sep)) return specifier;
  const inPackage = relative(kPackageRoot, target);
  if (inPackage.startsWith('..') || isAbsolute(inPackage) || inPackage.startsWith(`dist${sep}`)) return specifier;
  const compiled = join(dist, inPackage);
  return existsSync(compiled) ? pathToFileURL(compiled).href : specifier;
}
