// The dashboard's one script. The pages are complete without it; it adds the live logs and the
// action buttons. Everything it shows comes from pull requests and people, so it goes into the page
// as text only (createElement, textContent), never as markup.
'use strict';

(() => {
  const answer = document.getElementById('answer');

  function say(text, failed) {
    if (!answer) return;
    answer.textContent = text;
    answer.classList.toggle('error', Boolean(failed));
  }

  // ---- acting: the forms post JSON to the action endpoints, as the login at the top.
  // Signed in by single sign-on, the server fills the login in (read-only) and acts as it: nothing to
  // remember.
  const asInput = document.getElementById('as');
  if (asInput && !asInput.readOnly) {
    try { asInput.value = localStorage.getItem('runner.as') || ''; } catch (e) { /* storage off */ }
    asInput.addEventListener('change', () => {
      try { localStorage.setItem('runner.as', asInput.value.trim()); } catch (e) { /* storage off */ }
    });
  }
  for (const el of document.querySelectorAll('.js-only')) el.hidden = false;

  async function act(form) {
    const as = asInput ? asInput.value.trim() : '';
    if (!as) {
      say('Enter the GitHub login you act as, at the top, first.', true);
      if (asInput) asInput.focus();
      return;
    }
    const body = { as };
    for (const [k, v] of new FormData(form)) body[k] = String(v).trim();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    try {
      const resp = await fetch(form.dataset.endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      let got = {};
      try { got = await resp.json(); } catch (e) { /* not JSON */ }
      if (!resp.ok) {
        say(`${resp.status}: ${got.error || resp.statusText}`, true);
        return;
      }
      say(got.message || form.dataset.confirm || 'done', false);
      setTimeout(() => window.location.reload(), 600);
    } catch (e) {
      say(`the runner did not answer: ${e}`, true);
    } finally {
      if (button) button.disabled = false;
    }
  }

  for (const form of document.querySelectorAll('form.act')) {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(form);
    });
  }

  // ---- live logs: each followed stage's log by Server-Sent Events. The browser resumes a broken
  // stream with Last-Event-ID; a line whose sequence number is not after the last one shown is a
  // repeat and is dropped, so each line appears once, in order.
  function follow(log) {
    const stage = log.dataset.stage;
    let last = Number(log.dataset.last) || 0;
    const state = document.getElementById(`log-state-${stage}`);
    const show = (text) => { if (state) state.textContent = text; };
    const source = new EventSource(`/api/stages/${encodeURIComponent(stage)}/events?after=${last}`);
    source.addEventListener('open', () => show('following…'));
    // Lines are appended once per animation frame, in one fragment: a burst of thousands of events
    // costs one layout, not one each.
    let pending = [];
    const flush = () => {
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      const frag = document.createDocumentFragment();
      for (const [seq, text] of pending) {
        const line = document.createElement('div');
        line.dataset.seq = String(seq);
        line.textContent = text;
        frag.appendChild(line);
      }
      pending = [];
      log.appendChild(frag);
      log.dataset.last = String(last);
      if (stick) log.scrollTop = log.scrollHeight;
    };
    source.addEventListener('line', (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (typeof data.seq !== 'number' || data.seq <= last) return;
      last = data.seq;
      if (pending.length === 0) requestAnimationFrame(flush);
      pending.push([data.seq, String(data.line)]);
    });
    source.addEventListener('end', (ev) => {
      source.close();
      if (pending.length > 0) flush();
      let status = '';
      try { status = JSON.parse(ev.data).status || ''; } catch (e) { /* keep empty */ }
      log.dataset.follow = 'false';
      log.dataset.ended = status || 'ended';
      show(status ? `stage ${status}` : 'stage finished');
      const badge = document.querySelector(`li[data-stage="${CSS.escape(stage)}"] .stage-head .status`);
      if (badge && status) {
        badge.textContent = status;
        badge.className = `status ${status}`;
      }
    });
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) show('reconnecting…');
    });
  }

  for (const log of document.querySelectorAll('.log[data-follow="true"]')) follow(log);
})();
