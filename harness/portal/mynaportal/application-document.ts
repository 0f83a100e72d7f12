/**
 * The application form and the document that is signed (docs/portal-protocols.md, "Online
 * application with an electronic signature"): AP-01's fields and their rules, and the canonical
 * JSON a person signs.
 */
import type { ApplicationForm } from './views/application-pages.js';

export const kDefaultRecipient = 'jpki-hil市';
export const kDefaultTitle = '〇〇ポイント申請';

/** The fields of AP-01, with their limits (characters). */
const kFieldLimits: Record<keyof ApplicationForm, number> = { recipient: 100, title: 100, name: 100, address: 200, phone: 20, note: 500 };

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** JSON with keys sorted at every level (UTF-16 code unit order), no whitespace; signed as UTF-8. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}


/** The application document of docs/portal-protocols.md: what the person signs. */
export function applicationDocument(id: string, form: ApplicationForm, appliedOn: string): string {
  return canonicalJson({
    version: 1,
    applicationId: id,
    recipient: form.recipient,
    title: form.title,
    appliedOn,
    applicant: { name: form.name, address: form.address },
    fields: { phone: form.phone, note: form.note },
  });
}

export function documentSummary(document: string): { recipient: string; title: string; appliedOn: string } {
  const parsed = JSON.parse(document) as { recipient?: unknown; title?: unknown; appliedOn?: unknown };
  return { recipient: String(parsed.recipient ?? ''), title: String(parsed.title ?? ''), appliedOn: String(parsed.appliedOn ?? '') };
}

/** AP-01's fields from a posted form, with the guide's message for each that breaks a rule. */
export function formFrom(body: Record<string, unknown>): { form: ApplicationForm; errors: Partial<Record<keyof ApplicationForm, string>> } {
  const value = (key: keyof ApplicationForm, fallback = ''): string => (typeof body[key] === 'string' ? (body[key] as string).trim() : fallback);
  const form: ApplicationForm = {
    recipient: value('recipient', kDefaultRecipient) || kDefaultRecipient,
    title: value('title', kDefaultTitle) || kDefaultTitle,
    name: value('name'),
    address: value('address'),
    phone: value('phone'),
    note: value('note'),
  };
  const errors: Partial<Record<keyof ApplicationForm, string>> = {};
  if (form.name === '') errors.name = '氏名を入力してください。';
  if (form.address === '') errors.address = '住所を入力してください。';
  if (form.phone !== '' && !/^[0-9-]{10,13}$/.test(form.phone)) errors.phone = '電話番号は半角数字とハイフンで入力してください。';
  for (const [key, limit] of Object.entries(kFieldLimits) as [keyof ApplicationForm, number][]) {
    if ([...form[key]].length > limit) errors[key] = `${limit}文字以内で入力してください。`;
  }
  return { form, errors };
}
