/**
 * The card image: everything a card is (file contents, keys, PINs and their try counters,
 * lifecycle, options) as one versioned JSON document. Issuance writes it; the runtime loads it
 * and writes back every PIN-counter change.
 */
import { createPrivateKey } from 'node:crypto';
import { kPinIds, type PinId } from '../card/file-system.js';
import { fromBase64 } from '../../iso7816/bytes.js';
import { readTlv, readTlvList } from '../../iso7816/tlv.js';
import { kCardOptionChoices, kDefaultCardOptions, type CardOptions } from '../card/options.js';
import { createValidator, fieldName, isObject, kDateSchema, stringSchema, type Schema } from '../../common/yaml-schema.js';

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

const text = stringSchema;
const kBase64 = text('^[A-Za-z0-9+/]*={0,2}$', 'base64');
const kDay = kDateSchema;
const kFiles: Schema = { type: 'object', propertyNames: { pattern: '^[0-9A-F]{4}$', patternWords: 'a file id of 4 upper-case hex digits, e.g. "000A"' }, additionalProperties: kBase64 };
const kPem = text('-----BEGIN PRIVATE KEY-----', 'a PKCS#8 PEM private key');
const kPinState: Schema = {
  type: 'object',
  required: ['value', 'limit', 'remaining'],
  properties: { value: text(), limit: { type: 'integer', minimum: 1, maximum: 15 }, remaining: { type: 'integer', minimum: 0, maximum: 15 } },
};
const kApplet = (required: string, schema: Schema): Schema => ({ type: 'object', required: [required], properties: { [required]: schema } });

/** A card image's shape; what a schema cannot say (keys that load, tries within the limit) is checked after it. */
export const kCardImageSchema: Schema = {
  type: 'object',
  required: ['label', 'issuedAt', 'atr', 'lifecycle', 'identity', 'cardExpiry', 'applets', 'pins'],
  properties: {
    label: text(),
    issuedAt: text(),
    atr: text('^(?:[0-9A-Fa-f]{2})+$', 'hex bytes'),
    lifecycle: { enum: ['active', 'terminated'] },
    options: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(kCardOptionChoices as Record<string, readonly unknown[]>).map(([name, choices]) => [name, { enum: [...choices] }])),
    },
    identity: {
      type: 'object',
      required: ['name', 'address', 'birth', 'sex', 'myNumber'],
      properties: { name: text(), address: text(), birth: kDay, sex: text('^[129]$', '1, 2 or 9'), myNumber: text('^\\d{12}$', '12 digits') },
    },
    cardExpiry: kDay,
    applets: {
      type: 'object',
      required: ['jpki', 'kenhojo', 'kenkaku', 'juki'],
      properties: {
        jpki: { type: 'object', required: ['files', 'keys'], properties: { files: kFiles, keys: { type: 'object', required: ['auth'], properties: { auth: kPem, sign: kPem } } } },
        kenhojo: kApplet('files', kFiles),
        kenkaku: kApplet('files', kFiles),
        juki: kApplet('records', { type: 'array', items: kBase64 }),
      },
    },
    pins: { type: 'object', additionalProperties: false, required: [...kPinIds], properties: Object.fromEntries(kPinIds.map((id) => [id, kPinState])) },
    defects: { type: 'object', additionalProperties: false, properties: { wrongKey: { enum: [...kWrongKeyChoices] } } },
  },
};

const validateShape = createValidator(kCardImageSchema, { schemaName: 'the card image schema' });

/** A PKCS#8 PEM RSA private key that OpenSSL can load: the card signs with it. */
function privateKey(pem: string, field: string): void {
  let key;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new CardImageError(field, `is not a readable PKCS#8 private key (${(e as Error).message.split('\n')[0]}); issue the card again`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new CardImageError(field, `is an ${key.asymmetricKeyType ?? 'unknown'} key; the card signs with RSA`);
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
    // What says "this is not a card image at all" comes before any field of one.
    if (!isObject(value)) throw new CardImageError('(root)', 'must be an object');
    if (value.format !== kImageFormat) throw new CardImageError('format', `must be "${kImageFormat}" (is this a card image?)`);
    if (value.version !== kImageVersion) {
      throw new CardImageError('version', `${JSON.stringify(value.version)} is not supported; this jpki-hil reads version ${kImageVersion}`);
    }
    validateShape(value, (path, message, hint) => {
      throw new CardImageError(fieldName(path), hint ? `${message} (${hint})` : message);
    });
    const image = value as unknown as CardImage & { options?: Partial<CardOptions> };
    for (const id of kPinIds) {
      const pin = image.pins[id];
      if (pin.remaining > pin.limit) throw new CardImageError(`pins.${id}.remaining`, `must be an integer from 0 to ${pin.limit}`);
    }
    const keys = image.applets.jpki.keys;
    privateKey(keys.auth, 'applets.jpki.keys.auth');
    if (keys.sign !== undefined) privateKey(keys.sign, 'applets.jpki.keys.sign');
    const wrongKey = image.defects?.wrongKey;
    if ((wrongKey === 'sign' || wrongKey === 'both') && keys.sign === undefined) {
      throw new CardImageError('defects.wrongKey', `"${wrongKey}" names the signature key, which this card does not have`);
    }
    const opts: CardOptions = { ...kDefaultCardOptions, ...image.options };
    if (image.options === undefined || !Object.hasOwn(image.options, 'tlvLongLength')) {
      opts.tlvLongLength = encodedLongLengthForm([image.applets.kenhojo.files, image.applets.kenkaku.files]) ?? opts.tlvLongLength;
    }
    return { ...image, options: opts };
  } catch (e) {
    if (e instanceof CardImageError && file && !e.file) throw new CardImageError(e.field, e.message.slice(e.field.length + 2), file);
    throw e;
  }
}
