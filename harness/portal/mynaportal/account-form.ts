/**
 * The account registration form of the Mynaportal guide (アカウント情報登録, B-01): its fields,
 * their defaults as the guide shows them, and the rules, with the messages shown next to each
 * field. Kept apart from the pages so that the confirmation screen, the database and the tests
 * all read the same definition.
 */

export type NotificationFlag = 'notifyInfo' | 'notifyNotices' | 'notifySettings' | 'notifyConnections' | 'notifyStorage' | 'notifyLogin' | 'notifyOtherSites';

export interface NotificationGroup {
  readonly id: string;
  readonly heading: string;
  readonly description: string;
  readonly flags: readonly { readonly flag: NotificationFlag; readonly field: string; readonly label: string; readonly byDefault: boolean }[];
}

/** The check-box groups in the guide's order, with the guide's wording and default ticks. */
export const kNotificationGroups: readonly NotificationGroup[] = [
  {
    id: 'service',
    heading: 'マイナポータルが提供するサービスからのメール通知の希望',
    description: 'サービスからのメール通知を希望する場合は以下にチェックを入れてください。複数選択できます。',
    flags: [
      { flag: 'notifyInfo', field: 'notify_info', label: 'あなたの情報、お問い合わせに関する到着通知を希望する。', byDefault: true },
      { flag: 'notifyNotices', field: 'notify_notices', label: '行政機関等からのお知らせ到着通知を希望する。', byDefault: true },
      { flag: 'notifySettings', field: 'notify_settings', label: '利用者自身が情報設定したことの確認通知を希望する。', byDefault: true },
      {
        flag: 'notifyConnections',
        field: 'notify_connections',
        label: '他のウェブサイトとつなげた場合やつながりをやめた場合に、メール通知を希望する。',
        byDefault: true,
      },
    ],
  },
  {
    id: 'report',
    heading: 'マイナポータルからの報告に関するメール通知の希望',
    description: 'マイナポータルからの報告を希望する場合は、チェックを入れてください。',
    flags: [{ flag: 'notifyStorage', field: 'notify_storage', label: '保存容量の注意情報通知を希望する。', byDefault: true }],
  },
  {
    id: 'login',
    heading: 'ログイン実施のメール通知の希望',
    description:
      'マイナポータルへのログインが行われたことを受け取ることで、不測のログイン（他者のなりすまし等）が行われたことを検知することができます。' +
      'また、マイナポータルから他のウェブサイトへつなげたことの通知を受け取ることで、不測の手続きが実施されたかどうかを検知することができます。',
    flags: [
      { flag: 'notifyLogin', field: 'notify_login', label: 'マイナポータルへのログインおよび他のウェブサイトへつなげたことのメール通知を希望する。', byDefault: true },
    ],
  },
  {
    id: 'other-sites',
    heading: '他サイトでのお知らせ着信件数通知の希望',
    description: '他サイトのバナー上、マイナポータルの未読のお知らせ着信件数を表示します。通知を希望する場合にチェックを入れてください。',
    flags: [{ flag: 'notifyOtherSites', field: 'notify_other_sites', label: '他サイトでのお知らせ着信件数通知を希望する。', byDefault: false }],
  },
];

export const kNotificationFlags = kNotificationGroups.flatMap((g) => g.flags);

/** What B-01 collects once it is valid: what B-02 shows and what registration stores. */
export interface AccountDraft {
  nickname: string;
  email1: string;
  email2: string;
  language: 'ja';
  flags: Record<NotificationFlag, boolean>;
}

/** The form as posted: every field a string (text) or 'on' (a ticked box), absent when empty or unticked. */
export type AccountFormBody = Partial<Record<string, string>>;

/** The form's state for redisplay: what the person typed, even when it is not valid. */
export interface AccountFormValues {
  nickname: string;
  email1: string;
  email1Confirm: string;
  email2: string;
  email2Confirm: string;
  languageJa: boolean;
  languageEn: boolean;
  flags: Record<NotificationFlag, boolean>;
}

export type AccountField = 'nickname' | 'email1' | 'email1Confirm' | 'email2' | 'email2Confirm' | 'language';

export const kNicknameMaxLength = 20;

export function defaultFormValues(): AccountFormValues {
  return {
    nickname: '',
    email1: '',
    email1Confirm: '',
    email2: '',
    email2Confirm: '',
    languageJa: true,
    languageEn: false,
    flags: Object.fromEntries(kNotificationFlags.map((f) => [f.flag, f.byDefault])) as Record<NotificationFlag, boolean>,
  };
}

export function formValuesFromBody(body: AccountFormBody): AccountFormValues {
  const text = (name: string): string => (body[name] ?? '').trim();
  const ticked = (name: string): boolean => body[name] !== undefined && body[name] !== '';
  return {
    nickname: text('nickname'),
    email1: text('email1'),
    email1Confirm: text('email1_confirm'),
    email2: text('email2'),
    email2Confirm: text('email2_confirm'),
    languageJa: ticked('language_ja'),
    languageEn: ticked('language_en'),
    flags: Object.fromEntries(kNotificationFlags.map((f) => [f.flag, ticked(f.field)])) as Record<NotificationFlag, boolean>,
  };
}

/** A kept draft shown again in B-01 (the 修正 button): confirmations filled with the same addresses. */
export function formValuesFromDraft(draft: AccountDraft): AccountFormValues {
  return {
    nickname: draft.nickname,
    email1: draft.email1,
    email1Confirm: draft.email1,
    email2: draft.email2,
    email2Confirm: draft.email2,
    languageJa: true,
    languageEn: false,
    flags: { ...draft.flags },
  };
}

/**
 * "半角英数字で入力してください": ASCII only, one @, a dotted domain. Deliberately simple: the guide
 * asks for half-width characters, not for RFC 5322, and the portal sends no mail.
 */
const kEmailPattern = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
const kEmailMaxLength = 254;

function emailProblem(value: string, label: string): string | undefined {
  if (value.length > kEmailMaxLength) return `${label}は${kEmailMaxLength}文字以内で入力してください。`;
  if (!kEmailPattern.test(value)) return `${label}は半角英数字で、メールアドレスの形式で入力してください。`;
  return undefined;
}

export type AccountFormResult = { ok: true; draft: AccountDraft } | { ok: false; errors: Partial<Record<AccountField, string>> };

/** The rules of B-01, each with the message shown next to its field. */
export function validateAccountForm(values: AccountFormValues): AccountFormResult {
  const errors: Partial<Record<AccountField, string>> = {};
  // Characters, not UTF-16 units: a nickname of 20 kanji including one outside the BMP is 20.
  const nicknameLength = [...values.nickname].length;
  if (nicknameLength === 0) errors.nickname = 'ニックネームを入力してください。';
  else if (nicknameLength > kNicknameMaxLength) errors.nickname = `ニックネームは${kNicknameMaxLength}文字以内で入力してください。`;

  if (values.email1 !== '') {
    const problem = emailProblem(values.email1, '通知先メールアドレス1');
    if (problem) errors.email1 = problem;
    else if (values.email1Confirm !== values.email1) errors.email1Confirm = '通知先メールアドレス1 (確認)が通知先メールアドレス1と一致しません。';
  } else if (values.email1Confirm !== '') {
    errors.email1 = '通知先メールアドレス1を入力してください。';
  }

  if (values.email2 !== '') {
    const problem = emailProblem(values.email2, '通知先メールアドレス2');
    if (problem) errors.email2 = problem;
    else if (values.email1 !== '' && values.email2.toLowerCase() === values.email1.toLowerCase()) {
      // The guide's own wording under the field.
      errors.email2 = '通知先メールアドレス1と同じアドレスは登録できません。';
    } else if (values.email2Confirm !== values.email2) errors.email2Confirm = '通知先メールアドレス2 (確認)が通知先メールアドレス2と一致しません。';
  } else if (values.email2Confirm !== '') {
    errors.email2 = '通知先メールアドレス2を入力してください。';
  }

  // "日本語のみ選択できます。" — the guide offers 英語 but only 日本語 may be chosen.
  if (values.languageEn) errors.language = '日本語のみ選択できます。';
  else if (!values.languageJa) errors.language = '言語の指定で日本語を選択してください。';

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    draft: { nickname: values.nickname, email1: values.email1, email2: values.email2, language: 'ja', flags: { ...values.flags } },
  };
}
