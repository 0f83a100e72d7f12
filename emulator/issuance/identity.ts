/**
 * The person a card is issued to. These are the 基本4情報 (name, address, birth date, sex) plus the
 * My Number; the signature certificate and the card-info APs carry the same values.
 */

/** ISO/IEC 5218, as the card stores it: 1 male, 2 female, 9 not applicable. */
export type Sex = '1' | '2' | '9';

export interface Identity {
  /** 氏名 as printed, e.g. "番号 花子" (the card keeps the full-width space between family and given name). */
  readonly name: string;
  /** Reading in katakana, used by portal forms; not stored on the card. */
  readonly nameKana?: string | undefined;
  /** 住所 as printed. */
  readonly address: string;
  /** Date of birth, YYYY-MM-DD. */
  readonly birth: string;
  readonly sex: Sex;
  /** 12 digits, the last one a valid check digit. */
  readonly myNumber: string;
  /** 氏名代替文字: the name with characters outside JIS level 1/2 replaced; defaults to `name`. */
  readonly nameSubstitute?: string | undefined;
  /** 住所代替文字; defaults to `address`. */
  readonly addressSubstitute?: string | undefined;
}
