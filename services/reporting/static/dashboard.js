// The dashboard live: the server renders the figures (the page works without this), server-sent events bring the
// same part rendered again whenever a figure changes, and chart.js draws the last weeks.
(() => {
  const live = document.getElementById('live');
  const dataTag = document.getElementById('charts-data');
  if (!live || !dataTag) return;
  const colors = ['#1f6feb', '#1a7f37', '#c62828', '#b35900', '#6e40c9'];
  const charts = [];

  function datasets(chart) {
    return chart.series.map((s, i) => ({
      label: s.label, data: s.values, borderColor: colors[i % colors.length],
      backgroundColor: colors[i % colors.length] + '33', tension: 0.25, pointRadius: 2, spanGaps: true,
    }));
  }

  function draw(all) {
    if (!window.Chart) return;
    all.forEach((chart, n) => {
      const labels = chart.days.map((d) => d.slice(5));
      if (charts[n]) {
        charts[n].data.labels = labels;
        charts[n].data.datasets.forEach((set, i) => { set.data = chart.series[i] ? chart.series[i].values : []; });
        charts[n].update();
        return;
      }
      const canvas = document.getElementById(`chart-${n}`);
      if (!canvas) return;
      charts[n] = new window.Chart(canvas, {
        type: 'line',
        data: { labels, datasets: datasets(chart) },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          interaction: { mode: 'index', intersect: false },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 8 } } },
          plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        },
      });
    });
  }

  const values = () => Object.fromEntries(
    [...live.querySelectorAll('[data-figure]')].map((el) => [el.closest('[data-manager]')?.dataset.manager + el.dataset.figure, el.textContent]));

  window.addEventListener('load', () => draw(JSON.parse(dataTag.textContent)));

  if (!window.EventSource || !live.dataset.events) return;
  const state = document.querySelector('.live-state');
  const source = new EventSource(live.dataset.events);
  source.addEventListener('open', () => { if (state) { state.classList.remove('off'); state.textContent = 'live'; } });
  source.addEventListener('error', () => { if (state) { state.classList.add('off'); state.textContent = 'reconnecting…'; } });
  source.addEventListener('figures', (ev) => {
    const update = JSON.parse(ev.data);
    const before = values();
    live.innerHTML = update.html;
    live.querySelectorAll('[data-figure]').forEach((el) => {
      const key = el.closest('[data-manager]')?.dataset.manager + el.dataset.figure;
      if (key in before && before[key] !== el.textContent) el.classList.add('changed');
    });
    draw(update.charts);
  });
})();
