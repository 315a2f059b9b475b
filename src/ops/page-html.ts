/**
 * The status page's one document: markup, style and script in a single response, with nothing
 * loaded from elsewhere (a node may run where the browser reaches no network). The script renders
 * `/api/state` and every `state` event of `/api/events` with text nodes only, never markup from the
 * node, so no text from a commit can run as script. Voting needs the operator's token, which the
 * link `acu node page` prints carries in its fragment (never sent to the server in a URL); the
 * page keeps it in session storage and sends it only with a vote.
 */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>acu node</title>
<style>
  :root { --fg: #1d2228; --dim: #66707a; --line: #d9dee3; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --bg: #f6f8fa; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #fff; }
  header { padding: 12px 20px; border-bottom: 1px solid var(--line); display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 16px 20px; display: grid; gap: 20px; grid-template-columns: minmax(280px, 1fr) minmax(420px, 2fr); }
  section { border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  .wide { grid-column: 1 / -1; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 8px 3px 0; vertical-align: top; }
  th { color: var(--dim); font-weight: 500; }
  .dim { color: var(--dim); }
  .up { color: var(--ok); } .down { color: var(--bad); } .warn { color: var(--warn); }
  code, pre { font: 12px/1.4 ui-monospace, monospace; }
  pre { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin: 4px 0; overflow: auto; max-height: 320px; white-space: pre; }
  .sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .conflict { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 10px; }
  .conflict:first-of-type { border-top: 0; margin-top: 0; padding-top: 0; }
  button { font: inherit; padding: 4px 10px; margin: 4px 6px 0 0; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
  button:hover { background: var(--bg); }
  #live.on { color: var(--ok); } #live.off { color: var(--bad); }
  ol.timeline { list-style: none; margin: 0; padding: 0; max-height: 360px; overflow: auto; }
  ol.timeline li { padding: 2px 0; border-bottom: 1px dotted var(--line); }
</style>
</head>
<body>
<header>
  <h1>acu <span id="site" data-testid="site"></span></h1>
  <span>height <b id="height" data-testid="height">-</b></span>
  <span>round <b id="round">-</b></span>
  <span>phase <b id="phase" data-testid="phase">-</b></span>
  <span>leader <b id="leader">-</b></span>
  <span>agreed <b id="agreed" data-testid="agreed">-</b></span>
  <span id="live" class="off" data-testid="live">connecting</span>
  <span id="voter" class="dim"></span>
  <span id="vote-result" data-testid="vote-result"></span>
</header>
<main>
  <section>
    <h2>Members</h2>
    <table><thead><tr><th>site</th><th>state</th><th>last heard</th></tr></thead><tbody id="members" data-testid="members"></tbody></table>
    <p id="cluster" class="dim"></p>
    <p id="problems" class="warn"></p>
    <h2>Concurrent edits</h2>
    <div id="concurrent" data-testid="concurrent"><p class="dim">none</p></div>
  </section>
  <section>
    <h2>Open conflicts</h2>
    <div id="conflicts" data-testid="conflicts"><p class="dim">none</p></div>
  </section>
  <section class="wide">
    <h2>Latest agreed commits</h2>
    <table><thead><tr><th>height</th><th>commit</th><th>ACUs</th><th>signers</th></tr></thead><tbody id="recent" data-testid="recent"></tbody></table>
  </section>
  <section class="wide">
    <h2>Timeline</h2>
    <ol id="events" class="timeline" data-testid="events"></ol>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const row = (cells) => { const tr = el('tr'); for (const c of cells) { const td = el('td'); if (c instanceof Node) td.append(c); else td.textContent = String(c); tr.append(td); } return tr; };
  const fromHash = /(?:^|[#&])token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (fromHash) { sessionStorage.setItem('acu-page-token', fromHash[1]); history.replaceState(null, '', location.pathname); }
  const token = sessionStorage.getItem('acu-page-token');
  $('voter').textContent = token ? 'you can vote for this site' : 'read only (open the link acu node page prints to vote)';
  const choices = [['keep-a', 'keep A'], ['keep-b', 'keep B'], ['keep-both', 'keep both'], ['defer', 'defer']];

  // The result goes in the header: the conflict's own box is drawn anew on every update.
  async function vote(conflict, choice) {
    const status = $('vote-result');
    status.textContent = 'voting ' + choice + ' on ' + conflict + '...';
    try {
      const res = await fetch('/api/vote', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token }, body: JSON.stringify({ conflict, choice }) });
      const body = await res.json();
      status.textContent = res.ok ? 'voted ' + choice + ' on ' + conflict : 'vote refused: ' + (body.error || res.status) + (body.hint ? ' (' + body.hint + ')' : '');
    } catch (e) { status.textContent = 'vote failed: ' + e; }
  }

  function side(label, s) {
    const box = el('div');
    if (!s) { box.append(el('p', label + ': not held by this node', 'dim')); return box; }
    box.append(el('div', label + ' - ' + s.where + ' (from ' + s.site + ')'));
    box.append(el('pre', s.after === null ? '(removed)' : s.after));
    if (s.before !== null) { const d = el('details'); d.append(el('summary', 'before')); d.append(el('pre', s.before)); box.append(d); }
    return box;
  }

  function render(state) {
    const s = state.status;
    const siteOf = (id) => (s.peers.find((p) => p.id === id) || {}).site || (id === s.id ? s.site : id);
    $('site').textContent = s.site + (s.member ? '' : ' (removed)');
    $('height').textContent = s.height; $('round').textContent = s.round; $('phase').textContent = s.phase;
    $('leader').textContent = s.leader ? siteOf(s.leader) : '-';
    $('agreed').textContent = s.agreed.height + (s.agreed.commit ? ' ' + s.agreed.commit.slice(0, 12) : '');
    $('cluster').textContent = s.cluster.n + ' members, f = ' + s.cluster.f + ', quorum ' + s.cluster.quorum + ', branch ' + s.cluster.branch + ', ' + s.pendingAcus + ' pending ACUs';
    const problems = [];
    if (s.writeFailure) problems.push('agreed commit ' + s.writeFailure.height + ' not written: ' + s.writeFailure.message);
    if (s.catchUp) problems.push('catching up: ' + JSON.stringify(s.catchUp));
    $('problems').textContent = problems.join('; ');
    const members = $('members'); members.replaceChildren(row([s.site + ' (this node)', el('span', 'self', 'up'), '-']));
    for (const p of s.peers) members.append(row([p.site, el('span', p.connected ? 'up' : 'down', p.connected ? 'up' : 'down'), p.lastHeardMsAgo === null ? 'never' : Math.round(p.lastHeardMsAgo / 100) / 10 + ' s ago']));

    const concurrent = $('concurrent'); concurrent.replaceChildren();
    const overlaps = s.concurrentEdits || [];
    if (overlaps.length === 0) concurrent.append(el('p', 'none', 'dim'));
    for (const o of overlaps) concurrent.append(el('div', o.declaration + ': ' + o.edits.map((e) => e.site + ' (' + e.author + ', ' + e.commit.slice(0, 12) + ')').join(' and '), 'warn'));

    const conflicts = $('conflicts');
    conflicts.replaceChildren();
    if (state.conflicts.length === 0) conflicts.append(el('p', 'none', 'dim'));
    for (const c of state.conflicts) {
      const box = el('div', null, 'conflict'); box.dataset.conflict = c.id;
      box.append(el('div', 'conflict ' + c.id + ' in ' + c.file + ': ' + c.message));
      const sides = el('div', null, 'sides');
      sides.append(side('A', c.sides && c.sides.a), side('B', c.sides && c.sides.b));
      box.append(sides);
      box.append(el('div', 'this site: ' + (c.vote || 'waiting for a person'), c.vote ? '' : 'warn'));
      box.append(el('div', 'votes so far: ' + (c.votes.length === 0 ? 'none' : c.votes.map((v) => v.site + ' ' + v.choice).join(', ')), 'dim'));
      if (token) {
        for (const [choice, label] of choices) { const b = el('button', label); b.dataset.choice = choice; b.onclick = () => vote(c.id, choice); box.append(b); }
      }
      conflicts.append(box);
    }

    const recent = $('recent'); recent.replaceChildren();
    for (const e of state.recent) {
      const acus = el('div');
      for (const a of e.applied) acus.append(el('div', a.op + ' ' + a.where + ' (' + a.site + ')'));
      for (const a of e.deferred) acus.append(el('div', 'deferred ' + a.where + ': ' + (a.reason || ''), 'warn'));
      for (const a of e.rejected) acus.append(el('div', 'rejected ' + a.where + ': ' + (a.reason || ''), 'down'));
      if (e.problem) acus.append(el('div', e.problem, 'down'));
      recent.append(row([e.height === null ? '?' : e.height, el('code', e.commit.slice(0, 12)), acus, e.signers.map((x) => x.site || x.id.slice(0, 8)).join(', ')]));
    }
    const events = $('events'); events.replaceChildren();
    for (const ev of state.events.slice().reverse()) events.append(el('li', new Date(ev.atMs).toISOString().slice(11, 19) + '  ' + (ev.text.startsWith(ev.kind) ? '' : ev.kind + ': ') + ev.text));
  }

  fetch('/api/state').then((r) => r.json()).then(render).catch(() => undefined);
  const stream = new EventSource('/api/events');
  stream.addEventListener('state', (e) => { render(JSON.parse(e.data)); $('live').textContent = 'live'; $('live').className = 'on'; });
  stream.onerror = () => { $('live').textContent = 'reconnecting'; $('live').className = 'off'; };
})();
</script>
</body>
</html>
`;
