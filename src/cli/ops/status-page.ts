/**
 * The live status page served at `/` of the ops port: the mesh as this
 * relay sees it, drawn from its span paths (a router per id on a best path,
 * an edge per consecutive pair, each router labelled with its distance in
 * hops from this one), the span table, this relay's links with their rates,
 * and the relayed transactions open. It updates from `/events`
 * (Server-Sent Events). No dependencies: inline SVG and a small force layout.
 *
 * Peer-controlled text (names, services) is only ever set with textContent
 * or setAttribute, never parsed as HTML.
 *
 * DOM contract (used by the browser test): every router is
 * `g.router[data-node-id]`, every edge `line.edge[data-edge="ID1|ID2"]`
 * (the ids sorted), the span rows `#spans tbody tr`, the link rows
 * `#links tbody tr[data-conn]`.
 */
export const STATUS_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dmsg relay status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f5f7fa; }
  header { padding: 10px 16px; background: #1d2430; color: #fff; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .pill { padding: 1px 8px; border-radius: 10px; background: #3b4556; font-size: 12px; }
  .ok { background: #2e7d32; } .bad { background: #c62828; }
  main { display: grid; grid-template-columns: minmax(360px, 1fr) minmax(360px, 1fr); gap: 12px; padding: 12px; }
  section { background: #fff; border-radius: 6px; padding: 8px 12px; box-shadow: 0 1px 2px rgba(0,0,0,.08); overflow: auto; }
  section.graph { grid-row: span 2; }
  h2 { font-size: 14px; margin: 4px 0 8px; color: #4a5568; text-transform: uppercase; letter-spacing: .04em; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 2px 8px 2px 0; white-space: nowrap; }
  th { color: #718096; font-weight: 600; border-bottom: 1px solid #e2e8f0; }
  svg { width: 100%; height: 520px; }
  line.edge { stroke: #8796ad; stroke-width: 2; }
  g.router circle { fill: #3182ce; stroke: #fff; stroke-width: 2; }
  g.router.self circle { fill: #dd6b20; }
  g.router.peer circle { fill: #38a169; }
  g.router text { font-size: 12px; fill: #1d2430; }
  g.router text.dist { fill: #718096; font-size: 10px; }
  #totals span { margin-right: 16px; }
  .muted { color: #718096; }
</style>
</head>
<body>
<header>
  <h1 id="title">dmsg relay</h1>
  <span id="ready" class="pill">connecting</span>
  <span id="uptime" class="muted"></span>
  <span id="feed" class="pill">feed: connecting</span>
</header>
<main>
  <section class="graph"><h2>Mesh (from span paths; d = hops from here)</h2>
    <svg id="graph" viewBox="0 0 800 520" role="img" aria-label="mesh graph"><g id="edges"></g><g id="nodes"></g></svg>
    <div class="muted">orange: this relay, green: its direct peers, blue: routers seen on span paths</div>
  </section>
  <section><h2>Totals</h2><div id="totals"></div></section>
  <section><h2>Links</h2>
    <table id="links"><thead><tr><th>link</th><th>peer</th><th>transport</th><th>dir</th><th>auth</th><th>msg/s in</th><th>msg/s out</th><th>in/s</th><th>out/s</th><th>open tx</th><th>relayed</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Spans</h2>
    <table id="spans"><thead><tr><th>service</th><th>instance</th><th>dist</th><th>via</th><th>path (origin first)</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="dlm" hidden><h2>DLM lockspaces</h2>
    <table id="lockspaces"><thead><tr><th>lockspace</th><th>members</th><th>resources</th><th>locks</th><th>waiting</th><th>grants</th><th>waits</th><th>BASTs</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
var W = 800, H = 520;
var pos = new Map();      // node id -> {x, y, vx, vy}
var prev = null;

function el(tag, attrs, text) {
  var ns = (tag === 'g' || tag === 'line' || tag === 'circle' || tag === 'text') ? 'http://www.w3.org/2000/svg' : null;
  var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function bytes(n) {
  if (n < 1024) return Math.round(n) + ' B';
  var u = ['KiB', 'MiB', 'GiB'], i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + ' ' + u[i];
}
function rate(cur, old, secs) {
  if (old === undefined || secs <= 0 || cur < old) return null;
  return (cur - old) / secs;
}
function fmt(r, isBytes) {
  if (r === null) return '-';
  return isBytes ? bytes(r) + '/s' : (r < 10 ? r.toFixed(1) : String(Math.round(r)));
}
function dur(s) {
  s = Math.floor(s);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60) + 's';
  return Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
}

/** Routers and edges from the span paths: consecutive ids, and the last hop to this relay. */
function buildGraph(st) {
  var self = st.node.nodeId;
  var names = new Map([[self, st.node.name]]);
  var kinds = new Map([[self, 'self']]);
  var edges = new Map();
  function addEdge(a, b) {
    if (!a || !b || a === b) return;
    var k = a < b ? a + '|' + b : b + '|' + a;
    edges.set(k, [a, b]);
  }
  st.links.forEach(function (l) {
    if (!l.peerNodeId) return;
    if (l.peerName) names.set(l.peerNodeId, l.peerName);
    kinds.set(l.peerNodeId, 'peer');
    addEdge(self, l.peerNodeId);
  });
  st.spans.forEach(function (s) {
    var p = s.path || [];
    for (var i = 0; i + 1 < p.length; i++) addEdge(p[i], p[i + 1]);
    if (p.length > 0) addEdge(p[p.length - 1], self);
    p.forEach(function (id) { if (!kinds.has(id)) kinds.set(id, 'router'); });
    if (s.node && !names.has(s.node)) names.set(s.node, s.instance);
  });
  // Distances in hops from this relay (BFS over the drawn edges).
  var adj = new Map();
  kinds.forEach(function (_k, id) { adj.set(id, []); });
  edges.forEach(function (e) { adj.get(e[0]).push(e[1]); adj.get(e[1]).push(e[0]); });
  var dist = new Map([[self, 0]]), queue = [self];
  while (queue.length) {
    var cur = queue.shift();
    adj.get(cur).forEach(function (n) { if (!dist.has(n)) { dist.set(n, dist.get(cur) + 1); queue.push(n); } });
  }
  return { self: self, names: names, kinds: kinds, edges: edges, dist: dist, adj: adj };
}

function hash(s) { var h = 2166136261; for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); } return h >>> 0; }

/** A few steps of a force layout: springs on edges, repulsion between routers, a pull to the centre. */
function layout(g) {
  // New routers start next to a placed neighbour, outward from the centre
  // (in order of distance), so a chain starts untangled.
  var order = Array.from(g.kinds.keys()).sort(function (a, b) { return (g.dist.has(a) ? g.dist.get(a) : 99) - (g.dist.has(b) ? g.dist.get(b) : 99); });
  order.forEach(function (id) {
    if (pos.has(id)) return;
    var a = (hash(id) % 360) * Math.PI / 180;
    var near = (g.adj.get(id) || []).map(function (n) { return pos.get(n); }).filter(Boolean)[0];
    if (id === g.self) pos.set(id, { x: W / 2, y: H / 2, vx: 0, vy: 0 });
    else if (near) {
      var ox = near.x - W / 2, oy = near.y - H / 2, len = Math.sqrt(ox * ox + oy * oy);
      var base = len > 1 ? Math.atan2(oy, ox) : a;
      var t = base + ((hash(id) % 60) - 30) * Math.PI / 180;
      pos.set(id, { x: near.x + 120 * Math.cos(t), y: near.y + 120 * Math.sin(t), vx: 0, vy: 0 });
    } else pos.set(id, { x: W / 2 + 150 * Math.cos(a), y: H / 2 + 150 * Math.sin(a), vx: 0, vy: 0 });
  });
  pos.forEach(function (_p, id) { if (!g.kinds.has(id)) pos.delete(id); });
  var ids = Array.from(pos.keys());
  for (var step = 0; step < 120; step++) {
    for (var i = 0; i < ids.length; i++) {
      var p = pos.get(ids[i]);
      for (var j = i + 1; j < ids.length; j++) {
        var q = pos.get(ids[j]);
        var dx = p.x - q.x, dy = p.y - q.y, d2 = dx * dx + dy * dy + 0.01;
        var f = 20000 / d2, d = Math.sqrt(d2);
        p.vx += f * dx / d; p.vy += f * dy / d; q.vx -= f * dx / d; q.vy -= f * dy / d;
      }
    }
    g.edges.forEach(function (e) {
      var p = pos.get(e[0]), q = pos.get(e[1]);
      var dx = q.x - p.x, dy = q.y - p.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01;
      var f = 0.05 * (d - 160);
      p.vx += f * dx / d; p.vy += f * dy / d; q.vx -= f * dx / d; q.vy -= f * dy / d;
    });
    pos.forEach(function (p, id) {
      p.vx += (W / 2 - p.x) * 0.003; p.vy += (H / 2 - p.y) * 0.003;
      if (id === g.self) { p.vx += (W / 2 - p.x) * 0.1; p.vy += (H / 2 - p.y) * 0.1; }
      p.x = Math.max(30, Math.min(W - 30, p.x + Math.max(-20, Math.min(20, p.vx))));
      p.y = Math.max(30, Math.min(H - 30, p.y + Math.max(-20, Math.min(20, p.vy))));
      p.vx *= 0.6; p.vy *= 0.6;
    });
  }
  // Fit the drawing to the box (keeping its aspect), so a small mesh is not a speck.
  if (ids.length > 1) {
    var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    pos.forEach(function (p) { minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x); minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y); });
    var s = Math.min((W - 160) / Math.max(1, maxX - minX), (H - 80) / Math.max(1, maxY - minY), 3);
    var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    pos.forEach(function (p) { p.x = W / 2 + (p.x - cx) * s; p.y = H / 2 + (p.y - cy) * s; });
  }
}

function drawGraph(st) {
  var g = buildGraph(st);
  layout(g);
  var edgesEl = document.getElementById('edges'), nodesEl = document.getElementById('nodes');
  edgesEl.replaceChildren();
  nodesEl.replaceChildren();
  g.edges.forEach(function (e, key) {
    var p = pos.get(e[0]), q = pos.get(e[1]);
    edgesEl.appendChild(el('line', { class: 'edge', 'data-edge': key, x1: p.x.toFixed(1), y1: p.y.toFixed(1), x2: q.x.toFixed(1), y2: q.y.toFixed(1) }));
  });
  g.kinds.forEach(function (kind, id) {
    var p = pos.get(id);
    var node = el('g', { class: 'router ' + kind, 'data-node-id': id, transform: 'translate(' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ')' });
    var title = el('title', null, (g.names.get(id) || '?') + ' ' + id);
    node.appendChild(title);
    node.appendChild(el('circle', { r: kind === 'self' ? 14 : 10 }));
    node.appendChild(el('text', { x: 16, y: 4 }, g.names.get(id) || id.slice(0, 8)));
    node.appendChild(el('text', { class: 'dist', x: 16, y: 17 }, g.dist.has(id) ? 'd=' + g.dist.get(id) : 'd=?'));
    nodesEl.appendChild(node);
  });
}

function drawTables(st) {
  var secs = prev ? (st.time - prev.time) / 1000 : 0;
  var old = new Map((prev ? prev.links : []).map(function (l) { return [l.connId, l]; }));
  var tb = document.querySelector('#links tbody');
  tb.replaceChildren();
  st.links.forEach(function (l) {
    var o = old.get(l.connId) || {};
    var tr = el('tr', { 'data-conn': l.connId });
    [l.connId, l.peerName || '?', l.transport, l.direction, l.auth,
     fmt(rate(l.messagesIn, o.messagesIn, secs)), fmt(rate(l.messagesOut, o.messagesOut, secs)),
     fmt(rate(l.bytesIn, o.bytesIn, secs), true), fmt(rate(l.bytesOut, o.bytesOut, secs), true),
     l.openTransactions, l.relayedOpen].forEach(function (v) { tr.appendChild(el('td', null, v)); });
    tb.appendChild(tr);
  });
  var g = buildGraph(st);
  var sb = document.querySelector('#spans tbody');
  sb.replaceChildren();
  st.spans.slice().sort(function (a, b) { return a.service.localeCompare(b.service) || a.dist - b.dist; }).forEach(function (s) {
    var tr = el('tr');
    var path = (s.path || []).map(function (id) { return g.names.get(id) || id.slice(0, 8); }).join(' > ');
    [s.service, s.instance, s.dist < 0 ? 'local' : s.dist, s.viaName || s.via || 'local', path].forEach(function (v) { tr.appendChild(el('td', null, v)); });
    sb.appendChild(tr);
  });
  var lss = st.lockspaces || [];
  document.getElementById('dlm').hidden = lss.length === 0;
  var lb = document.querySelector('#lockspaces tbody');
  lb.replaceChildren();
  lss.forEach(function (l) {
    var tr = el('tr');
    [l.name, l.members, l.resources, l.locks, l.waiting, l.grants, l.waits, l.basts].forEach(function (v) { tr.appendChild(el('td', null, v)); });
    lb.appendChild(tr);
  });
  var T = st.totals, P = prev ? prev.totals : {};
  var closed = Object.keys(T.linksClosed).reduce(function (a, k) { return a + T.linksClosed[k]; }, 0);
  var pe = Object.keys(T.protocolErrors).map(function (k) { return k + ' ' + T.protocolErrors[k]; }).join(', ');
  var items = [
    'links up ' + T.linksUp, 'opened ' + T.linksOpened, 'closed ' + closed,
    'msgs/s in ' + fmt(rate(T.messagesIn, P.messagesIn, secs)), 'out ' + fmt(rate(T.messagesOut, P.messagesOut, secs)),
    'relayed transactions open ' + T.relayedOpen, 'spans ' + st.spans.length,
    'span events up ' + T.spanEvents.up + ' down ' + T.spanEvents.down + ' changed ' + T.spanEvents.changed,
    'protocol errors ' + (pe || '0'), 'keepalive lost ' + T.keepaliveLosses,
  ];
  var tot = document.getElementById('totals');
  tot.replaceChildren();
  items.forEach(function (t) { tot.appendChild(el('span', null, t)); });
}

function render(st) {
  document.getElementById('title').textContent = 'dmsg relay ' + st.node.name;
  document.title = 'dmsg ' + st.node.name;
  var r = document.getElementById('ready');
  r.textContent = st.node.ready ? 'ready' : 'not ready';
  r.className = 'pill ' + (st.node.ready ? 'ok' : 'bad');
  document.getElementById('uptime').textContent = 'up ' + dur(st.node.uptimeSeconds) + ' | node ' + st.node.nodeId;
  drawGraph(st);
  drawTables(st);
  prev = st;
  document.body.setAttribute('data-updated', String(st.time));
}

var feed = document.getElementById('feed');
var source = new EventSource('events');
source.addEventListener('stats', function (e) {
  feed.textContent = 'feed: live';
  feed.className = 'pill ok';
  try { render(JSON.parse(e.data)); } catch (err) { feed.textContent = 'feed: bad data'; feed.className = 'pill bad'; }
});
source.onerror = function () { feed.textContent = 'feed: reconnecting'; feed.className = 'pill bad'; };
</script>
</body>
</html>
`;
