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
import { createValidator, fieldName, isObject, kDateSchema, stringSchema, type Schema } from '../../common/yaml-schema.js';

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

const text = stringSchema;
const kDay = kDateSchema;
const kDayOrTime = text('^\\d{4}-\\d{2}-\\d{2}', 'a date YYYY-MM-DD');
const kFourDigits = text('^\\d{4}$', '4 digits');
const section = (properties: Record<string, Schema>): Schema => ({ type: 'object', additionalProperties: false, properties });
const kTries: Schema = section({ limit: { type: 'integer', minimum: 0, maximum: 15 }, remaining: { type: 'integer', minimum: 0, maximum: 15 } });

/** The card definition's shape (docs/cards.md); what a schema cannot say is checked after it. */
export const kCardDefinitionSchema: Schema = section({
  id: text(),
  description: text(),
  identity: section({
    name: text(),
    nameKana: text(),
    address: text(),
    birth: kDay,
    sex: text('^[129]$', '1 (male), 2 (female) or 9 (not applicable)'),
    myNumber: text('^\\d{12}$', '12 digits'),
    nameSubstitute: text(),
    addressSubstitute: text(),
  }),
  pins: section({ auth: kFourDigits, sign: text('^[A-Z0-9]{6,16}$', '6 to 16 characters A-Z and 0-9'), kenhojo: kFourDigits, juki: kFourDigits }),
  tries: section(Object.fromEntries(kPinIds.map((pin) => [pin, kTries]))),
  certificates: section({
    issued: kDayOrTime,
    notAfter: kDayOrTime,
    revoked: section({ auth: { enum: [...kRevocationReasons] }, sign: { enum: [...kRevocationReasons] } }),
    signature: { type: 'boolean' },
  }),
  card: section({
    atr: text(),
    lifecycle: { enum: ['active', 'terminated'] },
    expiry: kDay,
    periodOfStayEnds: kDay,
    securityCode: kFourDigits,
    manufactureNumber: text('^[A-Z0-9]{13}$', '13 characters A-Z and 0-9'),
  }),
  cardInfo: section({ myNumberTagByte: text('^(FF|DF|ff|df)$', 'FF or DF'), myNumberTrailer: text('^[0-9A-Fa-f]{4}$', 'two bytes in hex, e.g. "0000"') }),
  options: section(
    Object.fromEntries(
      Object.entries(kCardOptionChoices as Record<string, readonly unknown[]>).map(([name, choices]) => {
        const types = [...new Set(choices.map((c) => typeof c))];
        return [name, { ...(types.length === 1 ? { type: types[0] } : {}), enum: [...choices] }];
      }),
    ),
  ),
  defects: section({ wrongKey: { enum: [...kWrongKeyChoices] } }),
});

const validateDefinition = createValidator(kCardDefinitionSchema, { schemaName: 'the card definition schema', coerceTypes: true });

/** A YAML `key:` with nothing after it means "not set", as if the key were absent. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

export function parseCardDefinition(raw: unknown, defaultId: string, fail: Fail): CardDefinition {
  const root = withoutNulls(raw ?? {}) as Record<string, unknown>;
  validateDefinition(root, (path, message, hint) => fail(fieldName(path), hint ? `${message} (${hint})` : message));
  const part = (name: string): Record<string, unknown> => (root[name] ?? {}) as Record<string, unknown>;
  const str = (obj: Record<string, unknown>, key: string): string | undefined => obj[key] as string | undefined;
  const d = kDefaultDefinition;
  /** A date that exists (not 2020-02-30), as YYYY-MM-DD or, after it, an ISO time. */
  const day = (obj: Record<string, unknown>, prefix: string, key: string): string | undefined => {
    const s = str(obj, key);
    if (s === undefined) return undefined;
    const parsed = new Date(s.length > 10 ? s : `${s.slice(0, 10)}T00:00:00Z`);
    if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== s.slice(0, 10)) fail(`${prefix}.${key}`, `"${s}" is not a date that exists (YYYY-MM-DD)`);
    return s;
  };

  const identity = part('identity');
  const myNumber = str(identity, 'myNumber');
  if (myNumber !== undefined && !isValidMyNumber(myNumber)) fail('identity.myNumber', `${myNumber} has a wrong check digit (the 12th digit); leave it out for a random valid one`);
  const pins = part('pins');
  const certificates = part('certificates');
  const card = part('card');
  const cardInfo = part('cardInfo');
  const options = part('options');
  const defects = part('defects');
  const triesOut: CardDefinition['tries'] = {};
  for (const [pin, v] of Object.entries(part('tries'))) {
    const t = v as { limit?: number; remaining?: number };
    triesOut[pin as PinId] = { limit: t.limit, remaining: t.remaining };
  }
  const revoked = { ...(certificates.revoked as CardDefinition['certificates']['revoked'] | undefined) };
  const signature = certificates.signature as boolean | undefined;

  const atrText = str(card, 'atr') ?? 'contactless';
  const atr = atrText in kAtrPresets ? kAtrPresets[atrText as keyof typeof kAtrPresets] : atrText.replace(/[\s:]/g, '').toUpperCase();
  if (!/^3B(?:[0-9A-F]{2}){1,32}$/.test(atr)) fail('card.atr', 'must be "contactless", "contact" or an ATR in hex starting with 3B');
  const lifecycle = (str(card, 'lifecycle') ?? 'active') as 'active' | 'terminated';
  const tagByte = str(cardInfo, 'myNumberTagByte');
  const trailer = str(cardInfo, 'myNumberTrailer');
  const wrongKey = defects.wrongKey as WrongKey | undefined;

  const sex = str(identity, 'sex');
  return {
    id: str(root, 'id') ?? defaultId,
    description: str(root, 'description') ?? '',
    identity: {
      name: str(identity, 'name') ?? d.identity.name,
      nameKana: str(identity, 'nameKana') ?? (identity.name === undefined ? d.identity.nameKana : undefined),
      address: str(identity, 'address') ?? d.identity.address,
      birth: day(identity, 'identity', 'birth') ?? d.identity.birth,
      sex: (sex as Sex | undefined) ?? d.identity.sex,
      myNumber,
      nameSubstitute: str(identity, 'nameSubstitute'),
      addressSubstitute: str(identity, 'addressSubstitute'),
    },
    pins: {
      auth: str(pins, 'auth') ?? d.pins.auth,
      sign: str(pins, 'sign') ?? d.pins.sign,
      kenhojo: str(pins, 'kenhojo') ?? d.pins.kenhojo,
      juki: str(pins, 'juki') ?? d.pins.juki,
    },
    tries: triesOut,
    certificates: {
      issued: day(certificates, 'certificates', 'issued'),
      notAfter: day(certificates, 'certificates', 'notAfter'),
      revoked,
      signature: signature as boolean | undefined,
    },
    card: {
      atr,
      lifecycle,
      expiry: day(card, 'card', 'expiry'),
      periodOfStayEnds: day(card, 'card', 'periodOfStayEnds'),
      securityCode: str(card, 'securityCode'),
      manufactureNumber: str(card, 'manufactureNumber'),
    },
    cardInfo: {
      myNumberTagByte: (tagByte?.toUpperCase() === 'DF' ? 0xdf : 0xff) as 0xff | 0xdf,
      myNumberTrailer: trailer ?? d.cardInfo.myNumberTrailer,
    },
    options: options as Partial<CardOptions>,
    defects: wrongKey === undefined ? {} : { wrongKey },
  };
}
