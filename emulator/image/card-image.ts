/**
 * The card image: everything a card is (file contents, keys, PINs and their try counters,
 * lifecycle, options) as one versioned JSON document. Issuance writes it; the runtime loads it
 * and writes back every PIN-counter change.
 */
import { kPinIds, type PinId } from '../card/file-system.js';
import { fromBase64 } from '../../iso7816/bytes.js';
import { readTlv, readTlvList } from '../../iso7816/tlv.js';
import { kCardOptionChoices, kDefaultCardOptions, type CardOptions } from '../card/options.js';

export const kImageFormat = 'jpki-hil/card-image';
export const kImageVersion = 1;

export interface PinState {
  /** The reference value as the card compares it (ASCII). */
  value: string;
  /** Tries a fresh counter has. */
  limit: number;
  /** Tries left; 0 means blocked. */
  remaining: number;
}

export interface IdentitySummary {
  name: string;
  nameKana?: string | undefined;
  address: string;
  birth: string;
  sex: '1' | '2' | '9';
  myNumber: string;
}

export type Lifecycle = 'active' | 'terminated';

/** Which JPKI key slots hold a private key that does not match their certificate. */
export type WrongKey = 'auth' | 'sign' | 'both';
export const kWrongKeyChoices: readonly WrongKey[] = ['auth', 'sign', 'both'];

/**
 * Defects the card definition asked for on purpose, recorded so that anything reading the image
 * (people, `card show`, a future key/certificate consistency check) knows they are intended.
 */
export interface CardDefects {
  /** These slots' private keys were generated apart from the key pair their certificate certifies. */
  wrongKey?: WrongKey | undefined;
}

export interface CardImage {
  format: typeof kImageFormat;
  version: typeof kImageVersion;
  /** The card definition it was issued from (an id or a file name), for people. */
  label: string;
  issuedAt: string;
  /** ATR presented at power-on, hex. */
  atr: string;
  lifecycle: Lifecycle;
  options: CardOptions;
  identity: IdentitySummary;
  /** Card expiry date (YYYY-MM-DD) printed on the surface. */
  cardExpiry: string;
  applets: {
    jpki: {
      /** EF contents by FID ("0006", "000A", ...), base64. */
      files: Record<string, string>;
      /** PKCS#8 PEM private keys; no sign key on a card for a person under 15. */
      keys: { auth: string; sign?: string | undefined };
    };
    kenhojo: { files: Record<string, string> };
    kenkaku: { files: Record<string, string> };
    juki: { records: string[] };
  };
  pins: Record<PinId, PinState>;
  /** Absent on a sound card; see CardDefects. */
  defects?: CardDefects | undefined;
}

/** A problem in a card image, naming the field: `pins.auth.remaining: must be an integer from 0 to 3`. */
export class CardImageError extends Error {
  constructor(
    readonly field: string,
    problem: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${field}: ${problem}`);
    this.name = 'CardImageError';
  }
}

type Json = unknown;

function obj(value: Json, field: string): Record<string, Json> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CardImageError(field, 'must be an object');
  return value as Record<string, Json>;
}

function str(value: Json, field: string, pattern?: RegExp, hint?: string): string {
  if (typeof value !== 'string') throw new CardImageError(field, 'must be a string');
  if (pattern && !pattern.test(value)) throw new CardImageError(field, `"${value.slice(0, 40)}" is not ${hint ?? `of the form ${pattern}`}`);
  return value;
}

const kBase64 = /^[A-Za-z0-9+/]*={0,2}$/;
const kHex = /^(?:[0-9A-Fa-f]{2})+$/;
const kDate = /^\d{4}-\d{2}-\d{2}$/;
const kFid = /^[0-9A-F]{4}$/;

function fileMap(value: Json, field: string): Record<string, string> {
  const map = obj(value, field);
  for (const [fid, content] of Object.entries(map)) {
    if (!kFid.test(fid)) throw new CardImageError(`${field}.${fid}`, 'file ids are 4 upper-case hex digits, e.g. "000A"');
    str(content, `${field}.${fid}`, kBase64, 'base64');
  }
  return map as Record<string, string>;
}

function pinState(value: Json, field: string): PinState {
  const p = obj(value, field);
  const v = str(p.value, `${field}.value`);
  const limit = p.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 15) {
    throw new CardImageError(`${field}.limit`, 'must be an integer from 1 to 15 (it is reported as 63Cx)');
  }
  const remaining = p.remaining;
  if (typeof remaining !== 'number' || !Number.isInteger(remaining) || remaining < 0 || remaining > limit) {
    throw new CardImageError(`${field}.remaining`, `must be an integer from 0 to ${limit}`);
  }
  return { value: v, limit, remaining };
}

function options(value: Json, field: string): CardOptions {
  const given = value === undefined ? {} : obj(value, field);
  const out: Record<string, unknown> = { ...kDefaultCardOptions };
  for (const [key, v] of Object.entries(given)) {
    const choices = (kCardOptionChoices as Record<string, readonly unknown[]>)[key];
    if (!choices) throw new CardImageError(`${field}.${key}`, `unknown option (known: ${Object.keys(kCardOptionChoices).join(', ')})`);
    if (!choices.includes(v)) throw new CardImageError(`${field}.${key}`, `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
    out[key] = v;
  }
  return out as unknown as CardOptions;
}

/**
 * The long-length form the card-info EFs were encoded with (`tlvLongLength`), read from the bytes:
 * an image issued before the option existed records no value, and its EFs keep the form they were
 * issued with. Undefined when no length between 128 and 255 tells the two forms apart.
 */
function encodedLongLengthForm(fileMaps: readonly Record<string, string>[]): CardOptions['tlvLongLength'] | undefined {
  const formOf = (bytes: Uint8Array, offset: number, item: { value: Uint8Array; size: number }): CardOptions['tlvLongLength'] | undefined => {
    const tagLength = (bytes[offset]! & 0x1f) === 0x1f ? 2 : 1;
    const lengthBytes = item.size - item.value.length - tagLength;
    if (lengthBytes === 2) return 'minimal';
    if (lengthBytes === 3 && item.value.length < 256) return 'two-byte';
    return undefined;
  };
  for (const files of fileMaps) {
    for (const content of Object.values(files)) {
      try {
        const bytes = fromBase64(content);
        const outer = readTlv(bytes, 0);
        const found = formOf(bytes, 0, outer);
        if (found) return found;
        let offset = outer.size - outer.value.length;
        for (const item of readTlvList(outer.value)) {
          const inner = formOf(bytes, offset, item);
          if (inner) return inner;
          offset += item.size;
        }
      } catch {
        // Not TLV throughout (a padded EF): nothing to learn from this file.
      }
    }
  }
  return undefined;
}

/**
 * Checks a parsed JSON value and returns it typed; throws CardImageError naming the first bad field.
 * It checks the shape only: it does not match private keys against certificates, so a card issued
 * with `defects.wrongKey` loads like any other (any such check must skip the slots named there).
 */
export function validateCardImage(value: Json, file?: string): CardImage {
  try {
    const root = obj(value, '(root)');
    if (root.format !== kImageFormat) throw new CardImageError('format', `must be "${kImageFormat}" (is this a card image?)`);
    if (root.version !== kImageVersion) {
      throw new CardImageError('version', `${JSON.stringify(root.version)} is not supported; this jpki-hil reads version ${kImageVersion}`);
    }
    str(root.label, 'label');
    str(root.issuedAt, 'issuedAt');
    str(root.atr, 'atr', kHex, 'hex bytes');
    const lifecycle = str(root.lifecycle, 'lifecycle');
    if (lifecycle !== 'active' && lifecycle !== 'terminated') throw new CardImageError('lifecycle', 'must be "active" or "terminated"');
    const opts = options(root.options, 'options');
    const identity = obj(root.identity, 'identity');
    str(identity.name, 'identity.name');
    str(identity.address, 'identity.address');
    str(identity.birth, 'identity.birth', kDate, 'a date YYYY-MM-DD');
    str(identity.sex, 'identity.sex', /^[129]$/, '1, 2 or 9');
    str(identity.myNumber, 'identity.myNumber', /^\d{12}$/, '12 digits');
    str(root.cardExpiry, 'cardExpiry', kDate, 'a date YYYY-MM-DD');
    const applets = obj(root.applets, 'applets');
    const jpki = obj(applets.jpki, 'applets.jpki');
    fileMap(jpki.files, 'applets.jpki.files');
    const keys = obj(jpki.keys, 'applets.jpki.keys');
    str(keys.auth, 'applets.jpki.keys.auth', /-----BEGIN PRIVATE KEY-----/, 'a PKCS#8 PEM private key');
    if (keys.sign !== undefined) str(keys.sign, 'applets.jpki.keys.sign', /-----BEGIN PRIVATE KEY-----/, 'a PKCS#8 PEM private key');
    const kenhojoFiles = fileMap(obj(applets.kenhojo, 'applets.kenhojo').files, 'applets.kenhojo.files');
    const kenkakuFiles = fileMap(obj(applets.kenkaku, 'applets.kenkaku').files, 'applets.kenkaku.files');
    if (root.options === undefined || !Object.hasOwn(obj(root.options, 'options'), 'tlvLongLength')) {
      opts.tlvLongLength = encodedLongLengthForm([kenhojoFiles, kenkakuFiles]) ?? opts.tlvLongLength;
    }
    const records = obj(applets.juki, 'applets.juki').records;
    if (!Array.isArray(records)) throw new CardImageError('applets.juki.records', 'must be an array of base64 records');
    records.forEach((r, i) => str(r, `applets.juki.records[${i}]`, kBase64, 'base64'));
    const pins = obj(root.pins, 'pins');
    for (const id of kPinIds) pinState(pins[id], `pins.${id}`);
    for (const id of Object.keys(pins)) {
      if (!(kPinIds as readonly string[]).includes(id)) throw new CardImageError(`pins.${id}`, `unknown PIN (known: ${kPinIds.join(', ')})`);
    }
    if (root.defects !== undefined) {
      const defects = obj(root.defects, 'defects');
      for (const key of Object.keys(defects)) if (key !== 'wrongKey') throw new CardImageError(`defects.${key}`, 'unknown defect (known: wrongKey)');
      const wrongKey = defects.wrongKey;
      if (wrongKey !== undefined && !kWrongKeyChoices.includes(wrongKey as WrongKey)) {
        throw new CardImageError('defects.wrongKey', `must be one of ${kWrongKeyChoices.join(', ')}`);
      }
      if ((wrongKey === 'sign' || wrongKey === 'both') && keys.sign === undefined) {
        throw new CardImageError('defects.wrongKey', `"${wrongKey}" names the signature key, which this card does not have`);
      }
    }
    return { ...(root as unknown as CardImage), options: opts };
  } catch (e) {
    if (e instanceof CardImageError && file && !e.file) throw new CardImageError(e.field, e.message.slice(e.field.length + 2), file);
    throw e;
  }
}
