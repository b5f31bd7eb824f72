/**
 * The report page's only stylesheet and script. Both are constants, never built from records, so the
 * Content-Security-Policy can pin them by hash and nothing a record holds can become code or style.
 */

/** The page's stylesheet (outcome colours: deployed green, failed red, rejected/expired amber, superseded grey). */
export const reportStyle = `
:root { --deployed: #2f9e5b; --deployed-soft: #8fd3a6; --failed: #d64545; --rejected: #e39a1c; --superseded: #9aa1aa;
  --approve: #3b5bdb; --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f5f6f8; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1440px; margin: 0 auto; padding: 24px 28px 48px; }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 18px; margin-bottom: 18px; }
header.top h1 { font-size: 22px; margin: 0; letter-spacing: -0.01em; }
header.top h1 span { color: var(--deployed); }
header.top .period { color: var(--muted); }
h2 { font-size: 16px; margin: 0 0 12px; }
h2 small { font-weight: 400; color: var(--muted); margin-left: 8px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 18px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; border-top: 4px solid var(--line); }
.tile b { display: block; white-space: nowrap; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile.t-deployed { border-top-color: var(--deployed); } .tile.t-failed { border-top-color: var(--failed); }
.tile.t-rejected { border-top-color: var(--rejected); } .tile.t-superseded { border-top-color: var(--superseded); }
.tile.t-rate { border-top-color: var(--ink); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); font-size: 12px; margin: -4px 0 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -2px; margin-right: 6px; }
.legend i.approve { background: var(--approve); width: 3px; height: 15px; border-radius: 1px; vertical-align: -3px; }
.legend i.reject { background: var(--rejected); transform: rotate(45deg) scale(.8); border-radius: 1px; outline: 1.5px solid #7a4b00; }
.legend i.rollback { width: 0; height: 0; border-radius: 0; border-top: 5px solid transparent; border-bottom: 5px solid transparent; border-right: 7px solid #5b1a1a; vertical-align: -1px; }
.c-deployed { background: var(--deployed); } .c-already { background: var(--deployed-soft); } .c-failed { background: var(--failed); }
.c-rejected { background: var(--rejected); } .c-superseded { background: var(--superseded); }
svg.timeline { width: 100%; height: auto; display: block; font-size: 12px; }
svg.timeline .lane-bg { fill: #fafbfc; } svg.timeline .lane-bg.odd { fill: #fff; }
svg.timeline .grid { stroke: #eceef2; } svg.timeline .axis text { fill: var(--muted); font-size: 11px; }
svg.timeline .app { font-weight: 650; fill: var(--ink); font-size: 12.5px; }
svg.timeline .env { fill: var(--ink); } svg.timeline .env.unknown { fill: var(--muted); font-style: italic; }
svg.timeline rect.bar { stroke: rgba(0,0,0,.18); stroke-width: .5; cursor: pointer; }
svg.timeline rect.bar:hover, svg.timeline .mark:hover { stroke: var(--ink); stroke-width: 1.5; }
svg .o-deployed { fill: var(--deployed); } svg .o-already { fill: var(--deployed-soft); }
svg .o-failed { fill: var(--failed); } svg .o-rejected { fill: var(--rejected); } svg .o-superseded { fill: var(--superseded); }
svg.timeline .m-approve { fill: var(--approve); }
svg.timeline .m-reject { fill: var(--rejected); stroke: #7a4b00; stroke-width: 1.2; }
svg.timeline .m-rollback { fill: #5b1a1a; }
.apps { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
.apps th, .apps td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); }
.apps th { font-size: 12px; color: var(--muted); font-weight: 600; }
.apps td.num, .apps th.num { text-align: right; }
.apps .bad { color: var(--failed); font-weight: 600; }
.mix { display: flex; width: 180px; height: 10px; border-radius: 5px; overflow: hidden; background: var(--line); }
.mix svg { display: block; }
.toolbar { display: flex; gap: 12px; align-items: center; margin-bottom: 10px; }
.toolbar input { flex: 0 1 320px; padding: 6px 10px; border: 1px solid #d0d5dd; border-radius: 6px; font: inherit; }
.toolbar .count { color: var(--muted); font-size: 12px; }
.table-wrap { overflow-x: auto; }
table.deployments { width: 100%; border-collapse: collapse; font-size: 13px; }
table.deployments th { position: sticky; top: 0; background: #f9fafb; text-align: left; border-bottom: 1px solid var(--line); padding: 0; white-space: nowrap; }
table.deployments th button { all: unset; display: block; padding: 8px 10px; cursor: pointer; font-weight: 600; color: #344054; font-size: 12px; }
table.deployments th button::after { content: "↕"; color: #c0c5cf; margin-left: 6px; }
table.deployments th[aria-sort="ascending"] button::after { content: "▲"; color: var(--ink); font-size: 9px; }
table.deployments th[aria-sort="descending"] button::after { content: "▼"; color: var(--ink); font-size: 9px; }
table.deployments td { padding: 7px 10px; border-bottom: 1px solid #f0f1f4; vertical-align: top; }
table.deployments tr:hover td { background: #fbfcfe; }
table.deployments tr.flash td { animation: flash 1.6s ease-out; }
@keyframes flash { from { background: #fff3c4; } to { background: transparent; } }
td .id, td .sub { display: block; color: var(--muted); font-size: 11px; }
td .id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; max-width: 190px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; text-align: right; font-variant-numeric: tabular-nums; }
td.who { max-width: 200px; overflow-wrap: anywhere; }
td.mono, .mono { overflow-wrap: anywhere; min-width: 190px; max-width: 280px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td.cause { min-width: 260px; max-width: 460px; color: #475467; }
td.cause div { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
td.cause b { color: var(--ink); font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.b-deployed { background: #e3f5ea; color: #1c6b3c; } .badge.b-failed { background: #fde8e8; color: #a12a2a; }
.badge.b-rejected { background: #fdf1dc; color: #8a5600; } .badge.b-superseded { background: #eef0f3; color: #4b5563; }
.approval { display: block; max-width: 240px; overflow-wrap: anywhere; } .approval + .approval { margin-top: 4px; } .approval.no { color: #8a5600; }
.approval small, .approval q { display: block; color: var(--muted); font-size: 11px; }
.empty { text-align: center; padding: 56px 20px; }
.empty h2 { font-size: 20px; margin-bottom: 6px; } .empty p { color: var(--muted); max-width: 560px; margin: 6px auto; }
.empty code, footer code { background: #eef0f3; padding: 1px 5px; border-radius: 4px; }
footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
footer dt { font-weight: 600; color: #475467; } footer dd { margin: 0 0 6px; }
#tip { position: fixed; z-index: 10; max-width: 460px; background: #1d2330; color: #f3f4f6; padding: 8px 10px; border-radius: 6px; font-size: 12px; line-height: 1.45; white-space: pre-line; pointer-events: none; box-shadow: 0 6px 18px rgba(0,0,0,.2); overflow-wrap: anywhere; }
`;

/**
 * The page's behaviour: a tooltip for the timeline (from each shape's SVG title, which stays as the
 * fallback without script), a click on a bar shows its row, sortable headers, a text filter; last,
 * `data-ok` on the body says the script ran to its end (the Chromium test reads it).
 */
export const reportScript = `
(function () {
  'use strict';
  var tip = document.getElementById('tip');
  var svg = document.querySelector('svg.timeline');
  if (svg && tip) {
    svg.querySelectorAll('[data-bar-for] > title, .mark > title').forEach(function (title) {
      title.parentNode.setAttribute('data-tip', title.textContent);
      title.remove();
    });
    svg.addEventListener('mousemove', function (event) {
      var shape = event.target.closest ? event.target.closest('[data-tip]') : null;
      if (!shape) { tip.hidden = true; return; }
      tip.textContent = shape.getAttribute('data-tip');
      tip.hidden = false;
      var box = tip.getBoundingClientRect();
      var x = event.clientX + 14, y = event.clientY + 14;
      if (x + box.width > window.innerWidth - 8) x = event.clientX - box.width - 14;
      if (y + box.height > window.innerHeight - 8) y = event.clientY - box.height - 14;
      tip.style.left = Math.max(4, x) + 'px';
      tip.style.top = Math.max(4, y) + 'px';
    });
    svg.addEventListener('mouseleave', function () { tip.hidden = true; });
    svg.addEventListener('click', function (event) {
      var bar = event.target.closest ? event.target.closest('[data-bar-for]') : null;
      if (!bar) return;
      var row = document.querySelector('tr[data-deployment-id="' + CSS.escape(bar.getAttribute('data-bar-for')) + '"]');
      if (!row) return;
      row.hidden = false;
      row.scrollIntoView({ block: 'center', behavior: 'smooth' });
      row.classList.remove('flash');
      void row.offsetWidth;
      row.classList.add('flash');
    });
  }

  var table = document.getElementById('deployments');
  if (table) {
    var body = table.tBodies[0];
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var value = function (row, index) {
      var cell = row.cells[index];
      return cell ? (cell.getAttribute('data-v') !== null ? cell.getAttribute('data-v') : cell.textContent.trim()) : '';
    };
    headers.forEach(function (th, index) {
      var button = th.querySelector('button');
      if (!button) return;
      button.addEventListener('click', function () {
        var ascending = th.getAttribute('aria-sort') !== 'ascending';
        headers.forEach(function (other) { other.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a, index), y = value(b, index);
          if (x === '' && y !== '') return 1;
          if (y === '' && x !== '') return -1;
          var nx = Number(x), ny = Number(y);
          var order = x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        var fragment = document.createDocumentFragment();
        rows.forEach(function (row) { fragment.appendChild(row); });
        body.appendChild(fragment);
      });
    });
    var filter = document.getElementById('filter');
    var count = document.getElementById('shown');
    if (filter && count) {
      filter.addEventListener('input', function () {
        var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
        var shown = 0;
        Array.prototype.forEach.call(body.rows, function (row) {
          var text = row.textContent.toLowerCase();
          var match = words.every(function (word) { return text.indexOf(word) !== -1; });
          row.hidden = !match;
          if (match) shown++;
        });
        count.textContent = shown + ' of ' + body.rows.length + ' shown';
      });
    }
  }
  document.body.setAttribute('data-ok', '1');
})();
`;
