/**
 * The application pages' script (AP-01, AP-02), served as /static/application.js. It follows
 * docs/portal-protocols.md, "Online application with an electronic signature":
 *
 *  AP-01  マイナンバーカードから入力: PC agent `readCardInfo` → POST /api/applications/prefill
 *         → fill 氏名 and 住所
 *  AP-02  電子署名を行う: POST /api/applications/:id/signing → show the deep link and the QR code
 *         → EventSource on the signing session → `signed`: 電子署名済み, 申請する enabled;
 *         `retry` / `failed` / `expired`: say why. 申請する asks 「申請します。よろしいですか？」.
 *
 * Failures end in `application-error` with the code in `data-code`.
 */
import type { ApplicationPageMessages } from './page-data.js';
import { Failure, agentText, byTestId, connectAgent, element, expiresText, followEvents, meta, pageData, postJson, statusLines } from './page.js';

const messages = pageData<ApplicationPageMessages>('application-messages');
const { setStatus, clearError, showError } = statusLines('application-status', 'application-error');
const unexpected = messages.status.unexpected;

function report(error: unknown): void {
  if (error instanceof Failure) showError(error.code, error.source === 'agent' ? agentText(messages, error.code) : error.message);
  else showError('UNEXPECTED', unexpected);
}

// AP-01: the card's basic 4 through the PC agent, checked by the portal.
async function prefill(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  clearError();
  setStatus(messages.status.connecting);
  try {
    const agent = await connectAgent(meta('pc-agent-url'));
    let info: { basic4: unknown; basic4Signature: unknown };
    try {
      setStatus(messages.status.readingCardInfo);
      info = await agent.request({ type: 'readCardInfo' });
    } finally {
      agent.close();
    }
    const person = await postJson<{ name: string; address: string }>('/api/applications/prefill', { basic4: info.basic4, basic4Signature: info.basic4Signature }, unexpected);
    element<HTMLInputElement>('input-name').value = person.name;
    element<HTMLInputElement>('input-address').value = person.address;
    setStatus(messages.status.prefilled);
  } catch (error) {
    report(error);
  }
  button.disabled = false;
}

const prefillButton = byTestId<HTMLButtonElement>('prefill-from-card');
prefillButton?.addEventListener('click', () => void prefill(prefillButton));

// AP-02: the hand-off to the signing app, and the outcome pushed back.
async function startSigning(applicationId: string, signButton: HTMLButtonElement): Promise<void> {
  const panel = element('sign-panel');
  const stateEl = element('sign-state');
  signButton.disabled = true;
  clearError();
  setStatus(messages.status.creating);
  let session: { id: string; link: string; qrImage: string; expiresAt: string };
  try {
    session = await postJson(`/api/applications/${encodeURIComponent(applicationId)}/signing`, {}, unexpected);
  } catch (error) {
    report(error);
    signButton.disabled = false;
    return;
  }
  element('sign-deeplink').setAttribute('href', session.link);
  element<HTMLImageElement>('sign-qr').src = session.qrImage;
  element('sign-expires').textContent = expiresText(session.expiresAt);
  panel.hidden = false;
  setStatus(messages.status.waiting);
  const finish = (events: EventSource): void => {
    events.close();
    panel.hidden = true;
    signButton.disabled = false;
  };
  const events = followEvents(
    `/api/sign/sessions/${encodeURIComponent(session.id)}/events`,
    ['signed', 'retry', 'failed', 'expired'],
    (name, data, stream) => {
      if (name === 'signed') {
        stream.close();
        panel.hidden = true;
        signButton.hidden = true;
        stateEl.textContent = messages.status.signed;
        stateEl.setAttribute('data-state', 'signed');
        setStatus('');
        element<HTMLButtonElement>('submit').disabled = false;
      } else if (name === 'retry') {
        showError(data.code ?? 'UNEXPECTED', data.message ?? unexpected);
        setStatus(messages.status.waiting);
      } else if (name === 'failed') {
        finish(stream);
        showError(data.code ?? 'UNEXPECTED', data.message ?? unexpected);
      } else {
        finish(stream);
        showError('SIGN_SESSION_EXPIRED', messages.status.expired);
      }
    },
    () => {
      finish(events);
      showError('UNEXPECTED', unexpected);
    },
  );
}

const section = byTestId('signing-section');
const signButton = byTestId<HTMLButtonElement>('sign-start');
if (section && signButton) {
  const applicationId = section.getAttribute('data-application-id') ?? '';
  signButton.addEventListener('click', () => void startSigning(applicationId, signButton));
  element('submit-form').addEventListener('submit', (event) => {
    if (!window.confirm(messages.status.confirmSubmit)) event.preventDefault();
  });
}
