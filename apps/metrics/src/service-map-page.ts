/**
 * The service map page: Cytoscape.js draws /api/service-map and redraws it every two seconds. Once
 * drawn, the page lists what it drew (names and on-screen positions) in #drawn, for people using a
 * screen reader and for the browser test.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let script: string | undefined;

export function cytoscapeScript(): string {
  return (script ??= readFileSync(require.resolve('cytoscape/dist/cytoscape.min.js'), 'utf8'));
}

export const serviceMapPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tendril service map</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; color: #1d2733; }
  header { padding: 8px 16px; background: #0f3d3e; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #status { opacity: .8; }
  #map { position: absolute; top: 40px; left: 0; right: 0; bottom: 0; }
  #drawn { position: absolute; left: -10000px; }
</style>
<script src="/assets/cytoscape.min.js"></script>
</head>
<body>
<header><h1>Tendril service map</h1><span id="status">loading…</span></header>
<div id="map"></div>
<ul id="drawn" aria-label="services drawn"></ul>
<script>
const cy = cytoscape({
  container: document.getElementById('map'),
  maxZoom: 1.6,
  style: [
    { selector: 'node', style: { label: 'data(id)', 'background-color': '#2a9d8f', color: '#1d2733', 'font-size': 12, 'text-valign': 'bottom', 'text-margin-y': 4, width: 28, height: 28 } },
    { selector: 'node[errorsIn > 0]', style: { 'background-color': '#e76f51' } },
    { selector: 'edge', style: { label: 'data(label)', width: 'data(width)', 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': '#8ab', 'target-arrow-color': '#8ab', 'font-size': 10, 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
    { selector: 'edge[errorRate > 0]', style: { 'line-color': '#e76f51', 'target-arrow-color': '#e76f51' } },
  ],
});
const percent = (x) => (x * 100).toFixed(x < 0.1 ? 1 : 0) + '%';
function edgeLabel(e) {
  return e.requestRate.toFixed(2) + ' req/s · ' + percent(e.errorRate) + ' err · ' + (e.meanLatencySeconds * 1000).toFixed(1) + ' ms';
}
function listDrawn() {
  const list = document.getElementById('drawn');
  list.replaceChildren(...cy.nodes().map((node) => {
    const item = document.createElement('li');
    const at = node.renderedPosition();
    item.textContent = node.id();
    item.dataset.x = String(Math.round(at.x));
    item.dataset.y = String(Math.round(at.y));
    return item;
  }));
  document.body.dataset.drawnNodes = String(cy.nodes().length);
  document.body.dataset.drawnEdges = String(cy.edges().length);
}
async function refresh() {
  let map;
  try {
    map = await (await fetch('/api/service-map')).json();
  } catch (error) {
    document.getElementById('status').textContent = 'cannot load the map: ' + error.message;
    return;
  }
  const wanted = new Set();
  let added = false;
  for (const node of map.nodes) {
    wanted.add(node.id);
    const data = { id: node.id, errorsIn: node.errorsIn };
    const found = cy.getElementById(node.id);
    if (found.nonempty()) found.data(data);
    else { cy.add({ group: 'nodes', data }); added = true; }
  }
  for (const edge of map.edges) {
    const id = edge.source + ' -> ' + edge.destination;
    wanted.add(id);
    const data = { id, source: edge.source, target: edge.destination, label: edgeLabel(edge), errorRate: edge.errorRate, width: 1 + Math.min(8, Math.log2(1 + edge.requestRate)) };
    const found = cy.getElementById(id);
    if (found.nonempty()) found.data(data);
    else { cy.add({ group: 'edges', data }); added = true; }
  }
  const gone = cy.elements().filter((element) => !wanted.has(element.id()));
  if (gone.nonempty()) gone.remove();
  if (added || gone.nonempty()) cy.layout({ name: 'breadthfirst', directed: true, padding: 60, spacingFactor: 1.4, animate: false }).run();
  document.getElementById('status').textContent = map.nodes.length + ' services, ' + map.edges.length + ' edges, rates over ' + map.windowSeconds + ' s · ' + new Date().toLocaleTimeString();
  listDrawn();
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
