// A little help on top of pages that work without it: one key or one click confirms without a page load.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  const items = () => [...document.querySelectorAll('.item:not(.sent)')];
  let current = 0;

  function focus(i) {
    const list = items();
    if (!list.length) return;
    current = Math.max(0, Math.min(i, list.length - 1));
    list.forEach((el, n) => el.classList.toggle('current', n === current));
    list[current].scrollIntoView({ block: 'nearest' });
  }

  function say(text, bad) {
    let flash = document.querySelector('.flash');
    if (!flash) {
      flash = document.createElement('p');
      flash.className = 'flash';
      flash.setAttribute('role', 'status');
      document.querySelector('main').prepend(flash);
    }
    flash.textContent = text;
    flash.classList.toggle('error', !!bad);
  }

  // Buttons whose change is hard to undo ask first (without script the form simply posts).
  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('[data-confirm]');
    if (button && !window.confirm(button.dataset.confirm)) ev.preventDefault();
  });

  function updateCount() {
    const count = document.querySelector('#awaiting .count');
    if (count) count.textContent = items().length;
  }

  // Optimistic: the row fades at once; if the server refuses, it comes back with the reason.
  async function confirm(item, outcome) {
    if (!csrf || item.classList.contains('sent')) return;
    item.classList.add('sent');
    updateCount();
    const body = outcome ? { outcome } : {};
    try {
      const r = await fetch(`/api/interactions/${item.dataset.id}/outcome`, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body),
      });
      const answer = await r.json();
      if (r.status !== 202) throw new Error(answer.detail || r.statusText);
      say(`Sent: ${answer.outcome.replaceAll('_', ' ')}.`);
      setTimeout(() => { item.remove(); focus(current); }, 400);
    } catch (e) {
      item.classList.remove('sent');
      updateCount();
      say(`Not sent: ${e.message}`, true);
    }
  }

  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('.item button[data-outcome], .item button[data-outcome-select]');
    if (!button) return;
    ev.preventDefault();
    const item = button.closest('.item');
    const outcome = button.dataset.outcomeSelect !== undefined
      ? button.form.querySelector('select').value : button.dataset.outcome;
    if (button.dataset.outcomeSelect !== undefined && !outcome) { say('Choose an outcome first.', true); return; }
    confirm(item, outcome);
  });

  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest('input, select, textarea') || ev.metaKey || ev.ctrlKey || ev.altKey) return;
    const list = items();
    if (!list.length) return;
    const item = list[current];
    const flagged = item.classList.contains('flagged');
    switch (ev.key) {
      case 'j': case 'ArrowDown': focus(current + 1); break;
      case 'k': case 'ArrowUp': focus(current - 1); break;
      case 'Enter': case 'a':
        if (flagged) { say('A possible wrong number: press w (wrong number) or c (call back).', true); break; }
        if (item.dataset.suggested) confirm(item, ''); break;
      case 'w': if (flagged) confirm(item, 'wrong_number'); break;
      case 'c': if (flagged) confirm(item, 'call_back_later'); break;
      case 'x': { const box = item.querySelector('input[type=checkbox]'); if (box) box.checked = !box.checked; break; }
      default: return;
    }
    ev.preventDefault();
  });

  if (document.querySelector('.item')) focus(0);

  // Live: when more work waits than the page shows, say so (a reload while someone types would lose their place).
  if (document.querySelector('#awaiting') && window.EventSource) {
    const live = new EventSource('/api/queue/events');
    live.addEventListener('queue', (ev) => {
      const state = JSON.parse(ev.data);
      const waiting = state.awaiting - items().length;
      let note = document.querySelector('.live');
      if (waiting <= 0) { if (note) note.remove(); return; }
      if (!note) {
        note = document.createElement('p');
        note.className = 'flash live';
        note.setAttribute('role', 'status');
        document.querySelector('#awaiting').closest('section').prepend(note);
      }
      note.innerHTML = '';
      const link = document.createElement('a');
      link.href = '/queue';
      link.textContent = `${waiting} new to confirm: show`;
      note.append(link);
    });
  }
})();
