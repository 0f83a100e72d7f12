/**
 * The login page's script (L-01), served as /static/login.js. It follows docs/portal-protocols.md
 * step by step:
 *
 *  IC card:  POST /api/login/nonce → agent `status` → agent `sign` → POST /api/login
 *            → (next = card-info) agent `readCardInfo` → POST /api/login/link → go to `next`
 *  phone:    POST /api/qr/sessions → show the QR image → EventSource on its events
 *            → `authenticated` go to `next`; `failed` / `expired` show why
 *
 * Every failure ends in the element `login-error`, with the failure's code in `data-code` so that
 * a scenario can check which failure it was without reading Japanese.
 */
import type { LoginPageMessages } from './page-data.js';
import { type AgentConnection, Failure, agentText, connectAgent, element, expiresText, followEvents, meta, pageData, postJson, statusLines } from './page.js';

const messages = pageData<LoginPageMessages>('login-messages');
const { setStatus, clearError, showError } = statusLines('login-status', 'login-error');
const cardButton = element<HTMLButtonElement>('login-ic-card');
const phoneButton = element<HTMLButtonElement>('login-smartphone');
const qrPanel = element('qr-panel');
const qrImage = element<HTMLImageElement>('qr-code');
const qrExpires = element('qr-expires');
const unexpected = messages.status.unexpected;
let busy = false;

function setBusy(value: boolean): void {
  busy = value;
  cardButton.disabled = value;
  phoneButton.disabled = value;
}

function report(error: unknown): void {
  if (error instanceof Failure && error.source === 'agent') {
    const text = error.code === 'WRONG_PIN' && typeof error.triesLeft === 'number' ? messages.wrongPinWithTries.replace('{n}', String(error.triesLeft)) : agentText(messages, error.code);
    showError(error.code, text);
  } else if (error instanceof Failure) showError(error.code, error.message || unexpected);
  else showError('UNEXPECTED', unexpected);
}

async function loginWithCard(): Promise<void> {
  if (busy) return;
  setBusy(true);
  clearError();
  qrPanel.hidden = true;
  setStatus(messages.status.connecting);
  let agent: AgentConnection | undefined;
  try {
    agent = await connectAgent(meta('pc-agent-url'));
    setStatus(messages.status.checkingCard);
    const status = await agent.request<{ cardPresent?: boolean }>({ type: 'status' });
    if (!status.cardPresent) throw new Failure('agent', 'NO_CARD');
    const challenge = await postJson<{ nonce: string }>('/api/login/nonce', {}, unexpected);
    setStatus(messages.status.enterPin);
    const signed = await agent.request<{ signature: string; certificate: string }>({ type: 'sign', nonce: challenge.nonce, purpose: 'login' });
    setStatus(messages.status.verifying);
    let result = await postJson<{ next: string }>('/api/login', { nonce: challenge.nonce, signature: signed.signature, certificate: signed.certificate }, unexpected);
    if (result.next === 'card-info') {
      setStatus(messages.status.readingCardInfo);
      const info = await agent.request<{ basic4: unknown; basic4Signature: unknown }>({ type: 'readCardInfo' });
      result = await postJson<{ next: string }>('/api/login/link', { basic4: info.basic4, basic4Signature: info.basic4Signature }, unexpected);
    }
    setStatus(messages.status.loggedIn);
    window.location.assign(result.next);
  } catch (error) {
    report(error);
    setBusy(false);
  } finally {
    agent?.close();
  }
}

async function loginWithPhone(): Promise<void> {
  if (busy) return;
  setBusy(true);
  clearError();
  setStatus(messages.status.qrCreating);
  let session: { id: string; qrImage: string; expiresAt: string };
  try {
    session = await postJson('/api/qr/sessions', {}, unexpected);
  } catch (error) {
    report(error);
    setBusy(false);
    return;
  }
  qrImage.src = session.qrImage;
  qrExpires.textContent = expiresText(session.expiresAt);
  qrPanel.hidden = false;
  setStatus(messages.status.qrShown);
  const finish = (events: EventSource): void => {
    events.close();
    qrPanel.hidden = true;
    setBusy(false);
  };
  const events = followEvents(
    `/api/qr/sessions/${encodeURIComponent(session.id)}/events`,
    ['authenticated', 'failed', 'expired'],
    (name, data, stream) => {
      if (name === 'authenticated') {
        stream.close();
        setStatus(messages.status.loggedIn);
        window.location.assign(data.next ?? '/');
      } else if (name === 'failed') {
        finish(stream);
        showError(data.code ?? 'UNEXPECTED', data.message ?? unexpected);
      } else {
        finish(stream);
        showError('QR_EXPIRED', messages.qrExpired);
      }
    },
    () => {
      finish(events);
      showError('UNEXPECTED', unexpected);
    },
  );
}

cardButton.addEventListener('click', () => void loginWithCard());
phoneButton.addEventListener('click', () => void loginWithPhone());
