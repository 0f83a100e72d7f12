/**
 * Card definitions: the declarative description of a card under scenarios/cards/*.yaml —
 * who it belongs to, its PINs and counters, certificate validity and revocation, lifecycle and
 * the options for behaviours of the real card that are unknown. Issuance turns one into an image.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseDocument } from 'yaml';
import { kPinIds, type PinId } from '../card/file-system.js';
import { kCardOptionChoices, type CardOptions } from '../card/options.js';
import { kWrongKeyChoices, type CardDefects, type WrongKey } from '../image/card-image.js';
import type { Sex } from './identity.js';
import { isValidMyNumber } from './my-number.js';

export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'privilegeWithdrawn';

export const kRevocationReasons: readonly RevocationReason[] = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
];

export const kAtrPresets = {
  /** PC/SC part-3 ATR a contactless reader builds from the card's ATQB (JPKI (07) in OpenSC's list). */
  contactless: '3B888001000041E0B381A1003B',
  /** Contact interface, T=1, advertising extended length and chaining. */
  contact: '3BDA13FF8131FB468012392F31C173C601C03B',
} as const;

export interface CardDefinition {
  /** Short name: file name without extension unless given. */
  id: string;
  description: string;
  identity: {
    name: string;
    nameKana?: string | undefined;
    address: string;
    birth: string;
    sex: Sex;
    /** 12 digits with a valid check digit, or undefined for a random valid one. */
    myNumber?: string | undefined;
    nameSubstitute?: string | undefined;
    addressSubstitute?: string | undefined;
  };
  pins: { auth: string; sign: string; kenhojo: string; juki: string };
  /** Try counters that differ from a fresh card: limits and remaining tries per PIN. */
  tries: Partial<Record<PinId, { limit?: number | undefined; remaining?: number | undefined }>>;
  certificates: {
    /** When the certificates were issued (YYYY-MM-DD or an ISO time); default: the time of issuance. */
    issued?: string | undefined;
    /** Overrides the end of validity (default: the 5th birthday after issue, capped by the card expiry). */
    notAfter?: string | undefined;
    /** Revocations made at issuance, per certificate. */
    revoked: { auth?: RevocationReason | undefined; sign?: RevocationReason | undefined };
    /** Whether the card carries a signature certificate; default: only when the holder is 15 or older. */
    signature?: boolean | undefined;
  };
  card: {
    atr: string;
    lifecycle: 'active' | 'terminated';
    /** Card expiry (YYYY-MM-DD); default by age (10th birthday after issue from 18, else 5th). */
    expiry?: string | undefined;
    /** For foreign residents: the end of the period of stay, which ends the card and the certificates. */
    periodOfStayEnds?: string | undefined;
    securityCode?: string | undefined;
    manufactureNumber?: string | undefined;
  };
  cardInfo: { myNumberTagByte: 0xff | 0xdf; myNumberTrailer: string };
  options: Partial<CardOptions>;
  /**
   * Deliberate defects, for testing that a relying party rejects a broken card: `wrongKey` stores,
   * for the slot(s) named, a private key that does not match the certificate. Empty on a sound card.
   */
  defects: CardDefects;
}

export class CardDefinitionError extends Error {
  constructor(file: string, field: string, problem: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${field}: ${problem}`);
    this.name = 'CardDefinitionError';
  }
}

export const kDefaultDefinition: CardDefinition = {
  id: 'adult',
  description: 'An adult resident with valid authentication and signature certificates.',
  identity: { name: '番号　太郎', nameKana: 'バンゴウ　タロウ', address: '東京都千代田区霞が関二丁目1番2号', birth: '1985-04-01', sex: '1' },
  pins: { auth: '1234', sign: 'JPKI2026', kenhojo: '1234', juki: '1234' },
  tries: {},
  certificates: { revoked: {} },
  card: { atr: kAtrPresets.contactless, lifecycle: 'active' },
  cardInfo: { myNumberTagByte: 0xff, myNumberTrailer: '0000' },
  options: {},
  defects: {},
};

const kTopKeys = ['id', 'description', 'identity', 'pins', 'tries', 'certificates', 'card', 'cardInfo', 'options', 'defects'];

/** Reads and validates a YAML (or JSON) card definition; errors name file, line and field. */
export function loadCardDefinition(path: string): CardDefinition {
  let text: string;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new Error('it is a directory; name a .yaml file');
    if (!stat.isFile()) throw new Error('it is not a regular file');
    // A definition is a page of YAML; a file of megabytes is the wrong file, and slow to parse.
    if (stat.size > 1024 * 1024) throw new Error(`it is ${stat.size} bytes, far more than a card definition; is this the right file?`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read card definition ${path}: ${(e as Error).message}`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) throw new CardDefinitionError(path, '(syntax)', 'the file is binary, not YAML');
  // An empty file is a mistake more often than a wish for every default: `{}` says the latter.
  if (text.trim() === '') throw new CardDefinitionError(path, '(root)', 'the file is empty; write the fields to set, or {} for every default');
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    throw new CardDefinitionError(path, '(syntax)', (err.message.split('\n')[0] ?? 'YAML error').slice(0, 160), err.linePos?.[0]?.line);
  }
  const lineOf = (fieldPath: (string | number)[]): number | undefined => {
    const node = doc.getIn(fieldPath, true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : text.slice(0, offset).split('\n').length;
  };
  const id = basename(path, extname(path));
  return parseCardDefinition(doc.toJS() as unknown, id, (field, problem) => {
    const parts = field.split('.');
    throw new CardDefinitionError(path, field, problem, lineOf(parts));
  });
}

type Fail = (field: string, problem: string) => never;

export function parseCardDefinition(raw: unknown, defaultId: string, fail: Fail): CardDefinition {
  const root = (raw ?? {}) as Record<string, unknown>;
  if (typeof root !== 'object' || Array.isArray(root)) fail('(root)', 'a card definition is a mapping of fields');
  for (const key of Object.keys(root)) if (!kTopKeys.includes(key)) fail(key, `unknown field (known: ${kTopKeys.join(', ')})`);
  const section = (name: string): Record<string, unknown> => {
    const v = root[name];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) fail(name, 'must be a mapping');
    return v as Record<string, unknown>;
  };
  const text = (obj: Record<string, unknown>, prefix: string, key: string, pattern?: RegExp, hint?: string): string | undefined => {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    const s = typeof v === 'number' ? String(v) : v;
    if (typeof s !== 'string') fail(`${prefix}.${key}`, 'must be a string');
    if (pattern && !pattern.test(s)) fail(`${prefix}.${key}`, `"${s}" is not ${hint}`);
    return s;
  };
  const only = (obj: Record<string, unknown>, prefix: string, keys: string[]): void => {
    for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(`${prefix}.${k}`, `unknown field (known: ${keys.join(', ')})`);
  };
  const date = /^\d{4}-\d{2}-\d{2}$/;
  const d = kDefaultDefinition;
  /** A date that exists (not 2020-02-30), as YYYY-MM-DD or, with `time`, an ISO time after it. */
  const day = (obj: Record<string, unknown>, prefix: string, key: string, time = false): string | undefined => {
    const s = text(obj, prefix, key, time ? /^\d{4}-\d{2}-\d{2}/ : date, 'a date YYYY-MM-DD');
    if (s === undefined) return undefined;
    const parsed = new Date(time && s.length > 10 ? s : `${s.slice(0, 10)}T00:00:00Z`);
    if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== s.slice(0, 10)) fail(`${prefix}.${key}`, `"${s}" is not a date that exists (YYYY-MM-DD)`);
    return s;
  };

  const identity = section('identity');
  only(identity, 'identity', ['name', 'nameKana', 'address', 'birth', 'sex', 'myNumber', 'nameSubstitute', 'addressSubstitute']);
  const myNumber = text(identity, 'identity', 'myNumber', /^\d{12}$/, '12 digits');
  if (myNumber !== undefined && !isValidMyNumber(myNumber)) fail('identity.myNumber', `${myNumber} has a wrong check digit (the 12th digit); leave it out for a random valid one`);
  const pins = section('pins');
  only(pins, 'pins', ['auth', 'sign', 'kenhojo', 'juki']);
  const tries = section('tries');
  const certificates = section('certificates');
  only(certificates, 'certificates', ['issued', 'notAfter', 'revoked', 'signature']);
  const card = section('card');
  only(card, 'card', ['atr', 'lifecycle', 'expiry', 'periodOfStayEnds', 'securityCode', 'manufactureNumber']);
  const cardInfo = section('cardInfo');
  only(cardInfo, 'cardInfo', ['myNumberTagByte', 'myNumberTrailer']);
  const options = section('options');
  const defects = section('defects');
  only(defects, 'defects', ['wrongKey']);

  const triesOut: CardDefinition['tries'] = {};
  for (const [pin, v] of Object.entries(tries)) {
    if (!(kPinIds as readonly string[]).includes(pin)) fail(`tries.${pin}`, `unknown PIN (known: ${kPinIds.join(', ')})`);
    const t = (v ?? {}) as Record<string, unknown>;
    only(t, `tries.${pin}`, ['limit', 'remaining']);
    for (const k of ['limit', 'remaining'] as const) {
      const n = t[k];
      if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 15)) fail(`tries.${pin}.${k}`, 'must be an integer from 0 to 15');
    }
    triesOut[pin as PinId] = { limit: t.limit as number | undefined, remaining: t.remaining as number | undefined };
  }

  const revokedRaw = (certificates.revoked ?? {}) as Record<string, unknown>;
  if (typeof revokedRaw !== 'object') fail('certificates.revoked', 'must be a mapping like { sign: affiliationChanged }');
  only(revokedRaw, 'certificates.revoked', ['auth', 'sign']);
  const revoked: CardDefinition['certificates']['revoked'] = {};
  for (const k of ['auth', 'sign'] as const) {
    const reason = revokedRaw[k];
    if (reason === undefined) continue;
    if (!kRevocationReasons.includes(reason as RevocationReason)) fail(`certificates.revoked.${k}`, `must be one of ${kRevocationReasons.join(', ')}`);
    revoked[k] = reason as RevocationReason;
  }
  const signature = certificates.signature;
  if (signature !== undefined && typeof signature !== 'boolean') fail('certificates.signature', 'must be true or false');

  const atrText = text(card, 'card', 'atr') ?? 'contactless';
  const atr = atrText in kAtrPresets ? kAtrPresets[atrText as keyof typeof kAtrPresets] : atrText.replace(/[\s:]/g, '').toUpperCase();
  if (!/^3B(?:[0-9A-F]{2}){1,32}$/.test(atr)) fail('card.atr', 'must be "contactless", "contact" or an ATR in hex starting with 3B');
  const lifecycle = text(card, 'card', 'lifecycle') ?? 'active';
  if (lifecycle !== 'active' && lifecycle !== 'terminated') fail('card.lifecycle', 'must be active or terminated');

  const tagByte = text(cardInfo, 'cardInfo', 'myNumberTagByte', /^(FF|DF)$/i, 'FF or DF');
  const trailer = text(cardInfo, 'cardInfo', 'myNumberTrailer', /^[0-9A-Fa-f]{4}$/, 'two bytes in hex, e.g. "0000"');

  for (const [k, v] of Object.entries(options)) {
    const choices = (kCardOptionChoices as Record<string, readonly unknown[]>)[k];
    if (!choices) fail(`options.${k}`, `unknown option (known: ${Object.keys(kCardOptionChoices).join(', ')})`);
    if (!choices.includes(v)) fail(`options.${k}`, `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
  }

  const wrongKey = defects.wrongKey;
  if (wrongKey !== undefined && wrongKey !== null && !kWrongKeyChoices.includes(wrongKey as WrongKey)) {
    fail('defects.wrongKey', `${JSON.stringify(wrongKey)} is not one of ${kWrongKeyChoices.join(', ')} (the slot whose private key does not match its certificate)`);
  }

  const sex = text(identity, 'identity', 'sex', /^[129]$/, '1 (male), 2 (female) or 9 (not applicable)');
  return {
    id: text(root, '', 'id') ?? defaultId,
    description: text(root, '', 'description') ?? '',
    identity: {
      name: text(identity, 'identity', 'name') ?? d.identity.name,
      nameKana: text(identity, 'identity', 'nameKana') ?? (identity.name === undefined ? d.identity.nameKana : undefined),
      address: text(identity, 'identity', 'address') ?? d.identity.address,
      birth: day(identity, 'identity', 'birth') ?? d.identity.birth,
      sex: (sex as Sex | undefined) ?? d.identity.sex,
      myNumber,
      nameSubstitute: text(identity, 'identity', 'nameSubstitute'),
      addressSubstitute: text(identity, 'identity', 'addressSubstitute'),
    },
    pins: {
      auth: text(pins, 'pins', 'auth', /^\d{4}$/, '4 digits') ?? d.pins.auth,
      sign: text(pins, 'pins', 'sign', /^[A-Z0-9]{6,16}$/, '6 to 16 characters A-Z and 0-9') ?? d.pins.sign,
      kenhojo: text(pins, 'pins', 'kenhojo', /^\d{4}$/, '4 digits') ?? d.pins.kenhojo,
      juki: text(pins, 'pins', 'juki', /^\d{4}$/, '4 digits') ?? d.pins.juki,
    },
    tries: triesOut,
    certificates: {
      issued: day(certificates, 'certificates', 'issued', true),
      notAfter: day(certificates, 'certificates', 'notAfter', true),
      revoked,
      signature: signature as boolean | undefined,
    },
    card: {
      atr,
      lifecycle,
      expiry: day(card, 'card', 'expiry'),
      periodOfStayEnds: day(card, 'card', 'periodOfStayEnds'),
      securityCode: text(card, 'card', 'securityCode', /^\d{4}$/, '4 digits'),
      manufactureNumber: text(card, 'card', 'manufactureNumber', /^[A-Z0-9]{13}$/, '13 characters A-Z and 0-9'),
    },
    cardInfo: {
      myNumberTagByte: (tagByte?.toUpperCase() === 'DF' ? 0xdf : 0xff) as 0xff | 0xdf,
      myNumberTrailer: trailer ?? d.cardInfo.myNumberTrailer,
    },
    options: options as Partial<CardOptions>,
    defects: wrongKey === undefined || wrongKey === null ? {} : { wrongKey: wrongKey as WrongKey },
  };
}
