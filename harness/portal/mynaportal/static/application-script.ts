/**
 * The application pages' script, served as /static/application.js (browser JavaScript kept as
 * text, like login.js). It follows docs/portal-protocols.md, "Online application with an
 * electronic signature":
 *
 *  AP-01  マイナンバーカードから入力: PC agent `readCardInfo` → POST /api/applications/prefill
 *         → fill 氏名 and 住所
 *  AP-02  電子署名を行う: POST /api/applications/:id/signing → show the deep link and the QR code
 *         → EventSource on the signing session → `signed`: 電子署名済み, 申請する enabled;
 *         `retry` / `failed` / `expired`: say why. 申請する asks 「申請します。よろしいですか？」.
 *
 * Failures end in `application-error` with the code in `data-code`.
 */
export const kApplicationScript = String.raw`'use strict';
(function () {
  var messages = JSON.parse(document.getElementById('application-messages').textContent);
  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute('content') : '';
  }
  function byTestId(id) {
    return document.querySelector('[data-testid="' + id + '"]');
  }
  var csrfToken = meta('csrf-token');
  var statusEl = byTestId('application-status');
  var errorEl = byTestId('application-error');

  function setStatus(text) { statusEl.textContent = text || ''; }
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
  function Failure(code, message) {
    this.code = code;
    this.message = message;
  }
  function agentText(code) {
    if (Object.prototype.hasOwnProperty.call(messages.agent, code)) return messages.agent[code];
    return messages.unknownAgent + '（' + code + '）';
  }
  function postJson(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Failure(json.code || 'HTTP_' + response.status, json.message || messages.status.unexpected);
        return json;
      });
    }, function () {
      throw new Failure('NETWORK', messages.status.unexpected);
    });
  }
  function report(error) {
    if (error instanceof Failure) showError(error.code, error.message);
    else showError('UNEXPECTED', messages.status.unexpected);
  }

  // AP-01: the card's basic 4 through the PC agent, checked by the portal.
  function readCardInfo() {
    return new Promise(function (resolve, reject) {
      var socket;
      try {
        socket = new WebSocket(meta('pc-agent-url'));
      } catch (e) {
        reject(new Failure('AGENT_UNREACHABLE', agentText('AGENT_UNREACHABLE')));
        return;
      }
      var answered = false;
      socket.onopen = function () {
        setStatus(messages.status.readingCardInfo);
        socket.send(JSON.stringify({ id: 'a1', type: 'readCardInfo' }));
      };
      socket.onmessage = function (event) {
        var answer;
        try { answer = JSON.parse(event.data); } catch (e) { return; }
        if (answer.id !== 'a1') return;
        answered = true;
        socket.close();
        if (answer.ok) resolve(answer);
        else reject(new Failure(answer.code || 'CARD_ERROR', agentText(answer.code || 'CARD_ERROR')));
      };
      socket.onclose = function () {
        if (!answered) reject(new Failure('AGENT_UNREACHABLE', agentText('AGENT_UNREACHABLE')));
      };
      socket.onerror = function () { /* onclose follows */ };
    });
  }
  var prefillButton = byTestId('prefill-from-card');
  if (prefillButton) {
    prefillButton.addEventListener('click', function () {
      prefillButton.disabled = true;
      clearError();
      setStatus(messages.status.connecting);
      readCardInfo()
        .then(function (info) {
          return postJson('/api/applications/prefill', { basic4: info.basic4, basic4Signature: info.basic4Signature });
        })
        .then(function (person) {
          byTestId('input-name').value = person.name;
          byTestId('input-address').value = person.address;
          setStatus(messages.status.prefilled);
        })
        .catch(report)
        .then(function () { prefillButton.disabled = false; });
    });
  }

  // AP-02: the hand-off to the signing app, and the outcome pushed back.
  var section = byTestId('signing-section');
  var signButton = byTestId('sign-start');
  var submitButton = byTestId('submit');
  if (section && signButton) {
    var applicationId = section.getAttribute('data-application-id');
    var stateEl = byTestId('sign-state');
    var panel = byTestId('sign-panel');
    signButton.addEventListener('click', function () {
      signButton.disabled = true;
      clearError();
      setStatus(messages.status.creating);
      postJson('/api/applications/' + encodeURIComponent(applicationId) + '/signing', {})
        .then(function (session) {
          byTestId('sign-deeplink').setAttribute('href', session.link);
          byTestId('sign-qr').src = session.qrImage;
          byTestId('sign-expires').textContent = '有効期限: ' + new Date(session.expiresAt).toLocaleTimeString('ja-JP', { hour: '2-digit', minute: '2-digit' });
          panel.hidden = false;
          setStatus(messages.status.waiting);
          var events = new EventSource('/api/sign/sessions/' + encodeURIComponent(session.id) + '/events');
          function finish() {
            events.close();
            panel.hidden = true;
            signButton.disabled = false;
          }
          events.addEventListener('signed', function () {
            events.close();
            panel.hidden = true;
            signButton.hidden = true;
            stateEl.textContent = messages.status.signed;
            stateEl.setAttribute('data-state', 'signed');
            setStatus('');
            submitButton.disabled = false;
          });
          events.addEventListener('retry', function (event) {
            var data = JSON.parse(event.data);
            showError(data.code, data.message);
            setStatus(messages.status.waiting);
          });
          events.addEventListener('failed', function (event) {
            var data = JSON.parse(event.data);
            finish();
            showError(data.code, data.message);
          });
          events.addEventListener('expired', function () {
            finish();
            showError('SIGN_SESSION_EXPIRED', messages.status.expired);
          });
          events.onerror = function () {
            if (events.readyState === EventSource.CLOSED) {
              finish();
              showError('UNEXPECTED', messages.status.unexpected);
            }
          };
        })
        .catch(function (error) {
          report(error);
          signButton.disabled = false;
        });
    });
    byTestId('submit-form').addEventListener('submit', function (event) {
      if (!window.confirm(messages.status.confirmSubmit)) event.preventDefault();
    });
  }
})();
`;
