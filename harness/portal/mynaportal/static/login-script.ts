/**
 * The login page's script, served as /static/login.js. It is browser JavaScript kept as text (the
 * portal has no bundler); it follows docs/portal-protocols.md step by step:
 *
 *  IC card:  POST /api/login/nonce → agent `status` → agent `sign` → POST /api/login
 *            → (next = card-info) agent `readCardInfo` → POST /api/login/link → go to `next`
 *  phone:    POST /api/qr/sessions → show the QR image → EventSource on its events
 *            → `authenticated` go to `next`; `failed` / `expired` show why
 *
 * Every failure ends in the element `login-error`, with the failure's code in `data-code` so that
 * a scenario can check which failure it was without reading Japanese.
 */
export const kLoginScript = String.raw`'use strict';
(function () {
  var messages = JSON.parse(document.getElementById('login-messages').textContent);
  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') : '';
  }
  function byTestId(id) {
    return document.querySelector('[data-testid="' + id + '"]');
  }
  var csrfToken = meta('csrf-token');
  var agentUrl = meta('pc-agent-url');
  var statusEl = byTestId('login-status');
  var errorEl = byTestId('login-error');
  var cardButton = byTestId('login-ic-card');
  var phoneButton = byTestId('login-smartphone');
  var qrPanel = byTestId('qr-panel');
  var qrImage = byTestId('qr-code');
  var qrExpires = byTestId('qr-expires');
  var busy = false;

  function setStatus(text) {
    statusEl.textContent = text || '';
  }
  function clearError() {
    errorEl.hidden = true;
    errorEl.textContent = '';
    errorEl.removeAttribute('data-code');
  }
  function showError(code, text) {
    setStatus('');
    errorEl.textContent = text;
    errorEl.setAttribute('data-code', code);
    errorEl.hidden = false;
  }
  function setBusy(value) {
    busy = value;
    cardButton.disabled = value;
    phoneButton.disabled = value;
  }

  // A failure with a stable code: from the agent (source 'agent') or the portal (source 'portal').
  function Failure(source, code, message, triesLeft) {
    this.source = source;
    this.code = code;
    this.message = message;
    this.triesLeft = triesLeft;
  }
  function agentText(code, triesLeft) {
    if (code === 'WRONG_PIN' && typeof triesLeft === 'number') return messages.wrongPinWithTries.replace('{n}', String(triesLeft));
    if (Object.prototype.hasOwnProperty.call(messages.agent, code)) return messages.agent[code];
    return messages.unknownAgent + '（' + code + '）';
  }
  function report(error) {
    if (error instanceof Failure && error.source === 'agent') showError(error.code, agentText(error.code, error.triesLeft));
    else if (error instanceof Failure) showError(error.code, error.message || messages.status.unexpected);
    else showError('UNEXPECTED', messages.status.unexpected);
  }

  function postJson(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Failure('portal', json.code || 'HTTP_' + response.status, json.message);
        return json;
      });
    }, function () {
      throw new Failure('portal', 'NETWORK', messages.status.unexpected);
    });
  }

  // The PC agent: one WebSocket, requests matched to answers by id.
  function connectAgent() {
    return new Promise(function (resolve, reject) {
      var socket;
      try {
        socket = new WebSocket(agentUrl);
      } catch (e) {
        reject(new Failure('agent', 'AGENT_UNREACHABLE'));
        return;
      }
      var pending = {};
      var nextId = 1;
      var opened = false;
      var timer = setTimeout(function () {
        if (!opened) {
          socket.close();
          reject(new Failure('agent', 'AGENT_UNREACHABLE'));
        }
      }, 5000);
      socket.onopen = function () {
        opened = true;
        clearTimeout(timer);
        resolve({
          request: function (message) {
            var id = 'p' + nextId++;
            message.id = id;
            return new Promise(function (res, rej) {
              pending[id] = { resolve: res, reject: rej };
              socket.send(JSON.stringify(message));
            });
          },
          close: function () { socket.close(); },
        });
      };
      socket.onmessage = function (event) {
        var answer;
        try { answer = JSON.parse(event.data); } catch (e) { return; }
        var waiter = pending[answer.id];
        if (!waiter) return;
        delete pending[answer.id];
        if (answer.ok) waiter.resolve(answer);
        else waiter.reject(new Failure('agent', answer.code || 'CARD_ERROR', answer.message, answer.triesLeft));
      };
      socket.onclose = function () {
        clearTimeout(timer);
        if (!opened) reject(new Failure('agent', 'AGENT_UNREACHABLE'));
        // The agent went away mid-request: nothing more will answer.
        Object.keys(pending).forEach(function (id) {
          pending[id].reject(new Failure('agent', 'AGENT_UNREACHABLE'));
          delete pending[id];
        });
      };
      socket.onerror = function () { /* onclose follows and reports */ };
    });
  }

  function loginWithCard() {
    if (busy) return;
    setBusy(true);
    clearError();
    qrPanel.hidden = true;
    setStatus(messages.status.connecting);
    var agent;
    connectAgent()
      .then(function (a) {
        agent = a;
        setStatus(messages.status.checkingCard);
        return agent.request({ type: 'status' });
      })
      .then(function (status) {
        if (!status.cardPresent) throw new Failure('agent', 'NO_CARD');
        return postJson('/api/login/nonce', {});
      })
      .then(function (challenge) {
        setStatus(messages.status.enterPin);
        return agent.request({ type: 'sign', nonce: challenge.nonce, purpose: 'login' }).then(function (signed) {
          setStatus(messages.status.verifying);
          return postJson('/api/login', { nonce: challenge.nonce, signature: signed.signature, certificate: signed.certificate });
        });
      })
      .then(function (result) {
        if (result.next !== 'card-info') return result;
        setStatus(messages.status.readingCardInfo);
        return agent.request({ type: 'readCardInfo' }).then(function (info) {
          return postJson('/api/login/link', { basic4: info.basic4, basic4Signature: info.basic4Signature });
        });
      })
      .then(function (result) {
        setStatus(messages.status.loggedIn);
        window.location.assign(result.next);
      })
      .catch(function (error) {
        report(error);
        setBusy(false);
      })
      .then(function () {
        if (agent) agent.close();
      });
  }

  function loginWithPhone() {
    if (busy) return;
    setBusy(true);
    clearError();
    setStatus(messages.status.qrCreating);
    postJson('/api/qr/sessions', {})
      .then(function (session) {
        qrImage.src = session.qrImage;
        qrExpires.textContent = '有効期限: ' + new Date(session.expiresAt).toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' });
        qrPanel.hidden = false;
        setStatus(messages.status.qrShown);
        var events = new EventSource('/api/qr/sessions/' + encodeURIComponent(session.id) + '/events');
        function finish() {
          events.close();
          qrPanel.hidden = true;
          setBusy(false);
        }
        events.addEventListener('authenticated', function (event) {
          events.close();
          setStatus(messages.status.loggedIn);
          window.location.assign(JSON.parse(event.data).next);
        });
        events.addEventListener('failed', function (event) {
          var data = JSON.parse(event.data);
          finish();
          showError(data.code, data.message);
        });
        events.addEventListener('expired', function () {
          finish();
          showError('QR_EXPIRED', messages.qrExpired);
        });
        events.onerror = function () {
          // EventSource retries by itself; only a refused stream (403, 404) closes it for good.
          if (events.readyState === EventSource.CLOSED) {
            finish();
            showError('UNEXPECTED', messages.status.unexpected);
          }
        };
      })
      .catch(function (error) {
        report(error);
        setBusy(false);
      });
  }

  cardButton.addEventListener('click', loginWithCard);
  phoneButton.addEventListener('click', loginWithPhone);
})();
`;

/** A little CSS, so the screens read like the guide's: one column, buttons that look like buttons. */
export const kPortalCss = `
body { font-family: "Hiragino Kaku Gothic ProN", "Noto Sans JP", Meiryo, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
.site-header { display: flex; gap: 1.5rem; align-items: center; padding: 0.6rem 1.2rem; background: #fff; border-bottom: 3px solid #d7003a; }
.site-header nav { flex: 1; color: #555; font-size: 0.9rem; }
.brand { margin: 0; font-weight: bold; }
.brand a { color: #d7003a; text-decoration: none; }
.mock-label { font-size: 0.75rem; color: #666; font-weight: normal; margin-left: 0.5rem; }
main { max-width: 56rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem 2rem; }
h1 { font-size: 1.4rem; border-left: 6px solid #d7003a; padding-left: 0.6rem; }
.screen-id { text-align: right; color: #777; font-size: 0.8rem; }
.actions { display: flex; gap: 1rem; margin-top: 1.5rem; }
.button, button { display: inline-block; padding: 0.55rem 1.4rem; border: 1px solid #888; border-radius: 4px; background: #fff; color: #222; text-decoration: none; font-size: 1rem; cursor: pointer; }
.primary { background: #d7003a; border-color: #d7003a; color: #fff; }
.error { color: #c00; }
.field-error { color: #c00; margin: 0.2rem 0 0; font-size: 0.9rem; }
.status { color: #225; min-height: 1.4em; }
.login-methods { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.login-method { flex: 1; min-width: 18rem; border: 1px solid #ddd; padding: 1rem; }
.qr-panel img { image-rendering: pixelated; border: 1px solid #ccc; }
table.form { border-collapse: collapse; width: 100%; }
table.form th, table.form td { border: 1px solid #ddd; padding: 0.6rem; text-align: left; vertical-align: top; }
table.form th { background: #f0f2f5; width: 30%; font-weight: normal; }
.required { color: #fff; background: #d7003a; font-size: 0.75rem; padding: 0 0.3rem; margin-left: 0.4rem; }
.menu-header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
.header-logout { margin: 0; }
`;
