// mlcanary dashboard: polls the control API (GET /v1/endpoints, /v1/deployments,
// /v1/deployments/{id}/events?after=N) with the bearer token kept in
// sessionStorage, and draws everything itself (DOM + inline SVG, no libraries).
'use strict';

(() => {
  const POLL_MS = 1500;
  const TOKEN_KEY = 'mlcanary.token';
  const MAX_EVENT_ROWS = 300;
  const ACTIVE_STATES = new Set(['PENDING', 'IN_PROGRESS', 'ROLLING_BACK']);
  const COLORS = {
    production: '#2563eb',
    canary: '#f59e0b',
    others: ['#8b5cf6', '#14b8a6', '#ec4899', '#64748b'],
    limit: '#dc2626',
    relative: '#fb923c',
    verdict: {
      healthy: '#10b981',
      inconclusive: '#9ca3af',
      latency_breached: '#ef4444',
      error_breached: '#ef4444',
      latency_and_error_breached: '#b91c1c',
      divergence_breached: '#a855f7',
      analysis_breached: '#d946ef',
    },
  };

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    endpoints: [],
    deployments: [],
    loaded: false,
    selectedId: null,
    pinned: false,        // the user picked a deployment in the history
    events: [],
    eventsFor: null,
    lastSeq: 0,
    lastOk: 0,
    error: '',
    timer: null,
    polling: false,
    action: null,         // {kind, id} while the action dialog is open
  };

  // --- Small helpers ---------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // An element with attributes (strings; `class`, `title`, data-*, on* handlers)
  // and children (nodes or text). Text never goes through innerHTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function pct(w) {
    const v = Math.round(w * 1000) / 10;
    return `${v}%`;
  }
  function ms(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v < 1) return `${v.toFixed(2)} ms`;
    if (v < 10) return `${v.toFixed(1)} ms`;
    return `${Math.round(v)} ms`;
  }
  function rate(r) {
    if (r === null || r === undefined || !isFinite(r)) return '–';
    if (r === 0) return '0%';
    const p = r * 100;
    return `${p < 0.1 ? p.toFixed(3) : p < 10 ? p.toFixed(2) : p.toFixed(1)}%`;
  }
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds}s`;
    const m = Math.floor(seconds / 60);
    const r = seconds % 60;
    if (m < 60) return r ? `${m}m${String(r).padStart(2, '0')}s` : `${m}m`;
    const hrs = Math.floor(m / 60);
    return `${hrs}h${String(m % 60).padStart(2, '0')}m`;
  }
  const time = (iso) => new Date(iso).getTime();
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit',
                                                  hour12: false});
  }
  function dateTime(iso) {
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    return today ? clock(iso)
                 : d.toLocaleString([], {month: 'short', day: 'numeric', hour: '2-digit',
                                         minute: '2-digit', hour12: false});
  }
  function ago(ms_) {
    const sec = Math.max(0, ms_) / 1000;
    return sec < 10 ? `${sec.toFixed(1)}s ago` : `${duration(sec)} ago`;
  }
  function modelLabel(model) {
    if (!model) return '–';
    if (model.kind === 'http') return model.url;
    const path = model.path || '';
    return path.split('/').pop() || path;
  }
  const isActive = (d) => ACTIVE_STATES.has(d.state);
  const stateClass = (st) => `badge state-${String(st).toLowerCase().replace(/_/g, '-')}`;
  function verdictBadge(verdict) {
    const text = verdict.replace(/_/g, ' ');
    return h('span', {class: `badge verdict-${verdict.replace(/_/g, '-')}`}, text);
  }

  // --- API -------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, token) {
    const headers = {Accept: 'application/json'};
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {method, headers, cache: 'no-store'});
    } catch (e) {
      throw new ApiError(0, 'Unreachable', 'the mlcanary server does not answer');
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      const err = (body && body.error) || {};
      throw new ApiError(response.status, err.code || `HTTP ${response.status}`,
                         err.message || text || response.statusText);
    }
    return body;
  }

  // --- Toasts ----------------------------------------------------------------

  function toast(message, kind = 'info') {
    const el = h('div', {class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status'}, message);
    $('toasts').append(el);
    setTimeout(() => el.classList.add('leaving'), 3500);
    setTimeout(() => el.remove(), 4000);
  }

  // --- Token -----------------------------------------------------------------

  function setToken(token) {
    state.token = token;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    $('token-button').textContent = token ? 'Token ✓' : 'Set token';
  }

  function openTokenDialog(message) {
    const dialog = $('token-dialog');
    $('token-error').textContent = message || '';
    $('token-input').value = state.token;
    if (!dialog.open) dialog.showModal();
    $('token-input').focus();
  }

  // --- Polling ---------------------------------------------------------------

  function schedule(delay = POLL_MS) {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, delay);
  }

  async function poll() {
    if (state.polling) return;
    if (!state.token) {
      renderLive();
      return;
    }
    state.polling = true;
    try {
      const [endpoints, deployments] = await Promise.all([
        api('GET', '/v1/endpoints', state.token),
        api('GET', '/v1/deployments', state.token),
      ]);
      state.endpoints = endpoints.endpoints || [];
      state.deployments = deployments.deployments || [];
      state.loaded = true;
      chooseSelected();
      if (state.selectedId) await loadEvents();
      state.lastOk = Date.now();
      state.error = '';
      render();
    } catch (e) {
      state.error = e.message;
      if (e.status === 401) {
        state.error = 'token refused';
        openTokenDialog(`The API refused the token: ${e.message}`);
      }
      renderLive();
    } finally {
      state.polling = false;
      if (state.token) schedule();
    }
  }

  // The deployment the page shows: the user's pick, else the active one (newest
  // first), else the newest.
  function chooseSelected() {
    const ds = state.deployments;
    if (state.pinned && ds.some((d) => d.id === state.selectedId)) return;
    state.pinned = false;
    const active = ds.find(isActive);
    state.selectedId = (active || ds[0] || {}).id || null;
  }

  async function loadEvents() {
    if (state.eventsFor !== state.selectedId) {
      state.events = [];
      state.lastSeq = 0;
      state.eventsFor = state.selectedId;
    }
    const id = state.selectedId;
    const doc = await api('GET', `/v1/deployments/${encodeURIComponent(id)}/events?after=${state.lastSeq}`,
                          state.token);
    if (state.eventsFor !== id) return;  // the selection changed meanwhile
    for (const e of doc.events || []) {
      if (e.seq > state.lastSeq) {
        state.events.push(e);
        state.lastSeq = e.seq;
      }
    }
  }

  // --- Rendering -------------------------------------------------------------

  function render() {
    renderLive();
    renderEndpoints();
    const d = state.deployments.find((x) => x.id === state.selectedId);
    renderDeployment(d);
    renderCharts(d);
    renderEvents(d);
    renderHistory();
  }

  function renderLive() {
    const dot = $('live-dot');
    const text = $('live-text');
    if (!state.token) {
      dot.className = 'dot';
      text.textContent = 'not signed in';
    } else if (state.error) {
      dot.className = 'dot bad';
      text.textContent = state.error;
    } else if (state.lastOk) {
      dot.className = 'dot ok';
      text.textContent = `live · updated ${ago(Date.now() - state.lastOk)}`;
    } else {
      dot.className = 'dot';
      text.textContent = 'connecting…';
    }
  }

  // Colors of an endpoint's variants: production blue, the active canary amber.
  function variantColors(endpoint) {
    const active = state.deployments.find((d) => d.id === endpoint.active_deployment);
    const colors = {};
    let other = 0;
    endpoint.variants.forEach((v, i) => {
      if (active && v.name === active.canary_variant) colors[v.name] = COLORS.canary;
      else if (active ? v.name === active.production_variant : i === 0) colors[v.name] = COLORS.production;
      else colors[v.name] = COLORS.others[other++ % COLORS.others.length];
    });
    return colors;
  }

  function renderEndpoints() {
    const host = $('endpoints');
    if (!state.endpoints.length) {
      host.replaceChildren(h('p', {class: 'empty'}, 'No endpoints are configured.'));
      return;
    }
    host.replaceChildren(...state.endpoints.map((e) => {
      const colors = variantColors(e);
      const bar = h('div', {class: 'stack'}, e.variants.filter((v) => v.weight > 0).map((v) => {
        const seg = h('div', {class: 'seg', title: `${v.name} ${pct(v.weight)}`});
        seg.style.width = `${v.weight * 100}%`;
        seg.style.background = colors[v.name];
        return seg;
      }));
      const rows = e.variants.map((v) => {
        const sw = h('span', {class: 'swatch'});
        sw.style.background = colors[v.name];
        return h('tr', {'data-variant': v.name},
                 h('td', {}, sw, v.name),
                 h('td', {class: 'num weight'}, pct(v.weight)),
                 h('td', {class: 'num muted'}, `×${v.instances}`),
                 h('td', {class: 'muted model', title: v.model && (v.model.path || v.model.url)},
                   modelLabel(v.model)));
      });
      const active = e.active_deployment
        ? h('a', {href: '#', class: 'link', onclick: (ev) => { ev.preventDefault(); select(e.active_deployment, true); }},
            `deploying ${e.active_deployment}`)
        : h('span', {class: 'muted'}, 'no active deployment');
      return h('article', {class: 'panel endpoint', 'data-endpoint': e.name},
               h('div', {class: 'endpoint-head'},
                 h('span', {class: 'endpoint-name'}, e.name),
                 h('span', {class: `badge status-${String(e.status).toLowerCase()}`}, e.status),
                 h('span', {class: 'spacer'}), active),
               bar,
               h('table', {class: 'variants'}, h('tbody', {}, rows)));
    }));
  }

  function renderDeployment(d) {
    $('deployment-empty').hidden = !!d || !state.loaded;
    $('deployment').hidden = !d;
    $('follow-button').hidden = !state.pinned;
    if (!d) {
      $('deployment-title').textContent = 'Deployment';
      return;
    }
    $('deployment-title').textContent = isActive(d) ? 'Active deployment' :
      state.pinned ? 'Deployment' : 'Latest deployment';
    $('deployment-id').textContent = d.id;
    const st = $('deployment-state');
    st.textContent = d.state;
    st.className = stateClass(d.state);
    $('deployment-paused').hidden = !(d.paused && isActive(d));
    // A manual gate (approval) or, issue 15, a gate hook holding the step (hook:confirm_step).
    const waiting = isActive(d) ? d.waiting_for : undefined;
    $('deployment-waiting').hidden = !waiting;
    if (waiting) {
      $('deployment-waiting').textContent = waiting === 'approval'
        ? 'WAITING FOR APPROVAL'
        : `WAITING FOR ${waiting.replace(/^hook:/, 'HOOK ').toUpperCase()}`;
    }
    $('deployment-route').replaceChildren(
      h('strong', {}, d.endpoint), ': ', d.production_variant, ' → ', h('strong', {}, d.canary_variant),
      ' ', h('span', {class: 'muted'}, `(${modelLabel(d.model)}, ×${d.instances})`));
    // What the controller knows that the store does not (a store that cannot be written).
    const notes = [];
    const un = d.unrecorded;
    if (un && un.rollback) {
      notes.push(`Rolled back at ${dateTime(un.rollback.time)}: traffic is on production; ` +
                 'the store has not recorded it yet, the record will follow.');
    }
    if (un && un.checks) notes.push(`${un.checks} check(s) not recorded (they do not count towards the bake).`);
    if (d.last_check_error && isActive(d)) {
      notes.push(`Last check error ${ago(Date.now() - time(d.last_check_error.time))}: ` +
                 d.last_check_error.message);
    }
    $('deployment-store-note').hidden = !notes.length;
    $('deployment-store-note').textContent = notes.join(' ');
    $('canary-weight').textContent = pct(d.canary_weight);
    $('canary-weight').className = `big ${isActive(d) ? 'live' : d.state === 'COMPLETED' ? 'done' : 'stopped'}`;
    const fill = $('weight-bar-fill');
    fill.style.width = `${d.canary_weight * 100}%`;
    fill.className = isActive(d) ? 'live' : d.state === 'COMPLETED' ? 'done' : 'stopped';

    const steps = policySteps(d.policy);
    $('weight-steps').replaceChildren(...steps.map((w) => {
      const tick = h('span', {class: w <= d.canary_weight + 1e-9 ? 'reached' : ''}, pct(w));
      tick.style.left = `${w * 100}%`;
      return tick;
    }));

    const p = d.progress || {};
    const pol = d.policy || {};
    const now = isActive(d) ? Date.now() : time(d.updated_at);
    const facts = [
      ['started', dateTime(d.created_at)],
      ['running for', duration((now - time(d.created_at)) / 1000)],
      ['at this weight', isActive(d) && p.weight_since ? duration((now - time(p.weight_since)) / 1000) : '–'],
      ['checks', String(p.checks ?? 0)],
      ['latency breaches', `${p.latency_breaches ?? 0} / ${pol.latency_breaches_to_rollback}`],
      ['error breaches', `${p.error_breaches ?? 0} / ${pol.error_breaches_to_rollback}`],
    ];
    $('deployment-facts').replaceChildren(...facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));

    const chips = [
      pol.steps ? `steps ${pol.steps.map(stepLabel).join(' → ')}` : `start ${pct(pol.initial_weight)} · step +${pct(pol.step)}`,
      pol.progress_deadline && pol.progress_deadline !== '0s' ?
          `progress deadline ${pol.progress_deadline} → ${pol.on_progress_deadline}` : null,
      `bake ${pol.bake}`, `check every ${pol.interval}`,
      pol.final_bake && pol.final_bake !== '0s' ? `final bake ${pol.final_bake}` : null,
      `p99 < ${pol.max_p99_ms} ms`,
      `p99 ratio < ${pol.max_latency_ratio}×` +
          (pol.latency_ratio_min_p99_ms > 0 ? ` (from ${pol.latency_ratio_min_p99_ms} ms)` : ''),
      `errors < ${rate(pol.max_error_rate)}`, `error diff < ${rate(pol.max_error_rate_diff)}`,
      pol.latency_judge === 'mann_whitney' ?
          `Mann-Whitney p < ${pol.latency_alpha}, p50 ratio ≥ ${pol.latency_min_effect}` : null,
      pol.divergence_psi_max > 0 ? `prediction PSI < ${pol.divergence_psi_max}` : null,
      pol.divergence_max_disagreement > 0 ?
          `paired disagreement < ${rate(pol.divergence_max_disagreement)} (|Δ| > ${pol.divergence_tolerance})` +
              (pol.divergence_mirror_sample > 0 ? `, ${rate(pol.divergence_mirror_sample)} mirrored in split` : '') :
          null,
      `≥ ${pol.min_invocations} canary calls / check`,
      pol.auto_rollback ? 'auto rollback' : 'no auto rollback',
    ].filter(Boolean);
    $('policy').replaceChildren(...chips.map((c) => h('span', {class: 'chip'}, c)));

    const inProgress = d.state === 'IN_PROGRESS';
    $('pause-button').disabled = !inProgress || d.paused;
    $('resume-button').disabled = !inProgress || !d.paused;
    $('rollback-button').disabled = !inProgress;
    // Issue 15: shown only while the deployment waits at a manual gate.
    $('approve-button').hidden = !(inProgress && d.waiting_for === 'approval');
  }

  // A steps entry is a weight or {weight, bake, gate}.
  function stepWeight(s) { return typeof s === 'number' ? s : s.weight; }
  function stepLabel(s) {
    if (typeof s === 'number') return pct(s);
    return pct(s.weight) + (s.bake ? ` (bake ${s.bake})` : '') + (s.gate ? ' ⏸ gate' : '');
  }

  function policySteps(pol) {
    if (!pol) return [];
    if (pol.steps && pol.steps.length) return pol.steps.map(stepWeight);
    const out = [];
    for (let w = pol.initial_weight; w < 1 - 1e-9 && out.length < 50; w += pol.step) {
      out.push(Math.round(w * 1e6) / 1e6);
    }
    out.push(1);
    return out;
  }

  // --- Charts ----------------------------------------------------------------

  // Round tick values between lo and hi, about `count` of them.
  function niceTicks(lo, hi, count) {
    const span = hi - lo || 1;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((st) => span / st <= count) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function timeTicks(spanSeconds) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
    const step = steps.find((st) => spanSeconds / st <= 6) || 86400;
    const out = [];
    for (let t = 0; t <= spanSeconds + 1e-9; t += step) out.push(t);
    return out;
  }

  // Draws a time-series chart into `host` as inline SVG.
  //   opt.x0, opt.x1: the time range (ms since epoch)
  //   opt.series: [{label, color, points: [[t, v|null]], step, area, dash, width, endLabel}]
  //   opt.markers: [{t, v, color, title}]
  //   opt.y: {max, log, format}
  function drawChart(host, opt) {
    const width = Math.max(260, Math.floor(host.clientWidth || 360));
    const height = 200;
    const m = {l: 58, r: 14, t: 12, b: 26};
    const pw = width - m.l - m.r;
    const ph = height - m.t - m.b;
    const span = Math.max(1, opt.x1 - opt.x0);
    const x = (t) => m.l + ((t - opt.x0) / span) * pw;

    let y;
    let yTicks;
    if (opt.y.log) {
      const lo = Math.pow(10, Math.floor(Math.log10(opt.y.min)));
      const hi = Math.pow(10, Math.ceil(Math.log10(opt.y.max)));
      const l0 = Math.log10(lo);
      const l1 = Math.log10(hi);
      y = (v) => m.t + ph - ((Math.log10(Math.max(v, lo)) - l0) / (l1 - l0)) * ph;
      yTicks = [];
      for (let e = l0; e <= l1 + 1e-9; e++) yTicks.push(Math.pow(10, e));
    } else {
      yTicks = niceTicks(0, opt.y.max, 4);
      // The axis reaches every value: one tick more when the last is below the maximum.
      const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : opt.y.max;
      if (yTicks.length && yTicks[yTicks.length - 1] < opt.y.max) {
        yTicks.push(+(yTicks[yTicks.length - 1] + yStep).toPrecision(12));
      }
      const top = yTicks[yTicks.length - 1] || opt.y.max;
      y = (v) => m.t + ph - (v / top) * ph;
    }

    const svg = s('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart-svg',
                          role: 'img', 'aria-label': opt.label});
    const grid = s('g', {class: 'grid'});
    for (const v of yTicks) {
      const yy = y(v);
      grid.append(s('line', {x1: m.l, x2: width - m.r, y1: yy, y2: yy}));
      grid.append(s('text', {x: m.l - 8, y: yy + 4, 'text-anchor': 'end'}, opt.y.format(v)));
    }
    for (const t of timeTicks(span / 1000)) {
      const xx = x(opt.x0 + t * 1000);
      grid.append(s('line', {x1: xx, x2: xx, y1: m.t, y2: m.t + ph, class: 'vertical'}));
      grid.append(s('text', {x: xx, y: height - 8, 'text-anchor': 'middle'}, duration(t)));
    }
    svg.append(grid);
    const clipId = `clip-${host.id}`;
    svg.append(s('defs', {}, s('clipPath', {id: clipId},
                                  s('rect', {x: m.l, y: m.t - 4, width: pw, height: ph + 8}))));
    const plot = s('g', {'clip-path': `url(#${clipId})`});
    svg.append(plot);

    for (const ser of opt.series) {
      // Consecutive non-null points form one run; a null breaks the line.
      const runs = [];
      let run = [];
      for (const [t, v] of ser.points) {
        if (v === null || v === undefined || !isFinite(v)) {
          if (run.length) runs.push(run);
          run = [];
        } else {
          run.push([x(t), y(v)]);
        }
      }
      if (run.length) runs.push(run);
      for (const r of runs) {
        let d = `M${r[0][0].toFixed(1)},${r[0][1].toFixed(1)}`;
        for (let i = 1; i < r.length; i++) {
          d += ser.step ? `H${r[i][0].toFixed(1)}V${r[i][1].toFixed(1)}`
                        : `L${r[i][0].toFixed(1)},${r[i][1].toFixed(1)}`;
        }
        if (ser.area && r.length > 1) {
          const base = (m.t + ph).toFixed(1);
          plot.append(s('path', {d: `${d}V${base}H${r[0][0].toFixed(1)}Z`, fill: ser.color,
                                 'fill-opacity': 0.12, stroke: 'none'}));
        }
        plot.append(s('path', {d, fill: 'none', stroke: ser.color, 'stroke-width': ser.width || 2,
                               'stroke-dasharray': ser.dash, 'stroke-linejoin': 'round',
                               'stroke-linecap': 'round'}, s('title', {}, ser.label)));
        if (r.length === 1 || ser.dots) {
          for (const [px, py] of r) {
            plot.append(s('circle', {cx: px, cy: py, r: 2.6, fill: ser.color}));
          }
        }
      }
      if (ser.endLabel && runs.length) {
        const last = runs[runs.length - 1];
        const [lx, ly] = last[last.length - 1];
        // Above the line, or below it when the line runs along the top.
        const ty = ly - 5 < m.t + 8 ? ly + 13 : ly - 5;
        svg.append(s('text', {x: Math.min(lx, width - m.r) - 2, y: ty, 'text-anchor': 'end',
                              class: 'end-label', fill: ser.color}, ser.endLabel));
      }
    }
    for (const mk of opt.markers || []) {
      plot.append(s('circle', {cx: x(mk.t), cy: y(mk.v), r: 4, fill: mk.color, stroke: '#fff',
                               'stroke-width': 1.5, class: 'marker'}, s('title', {}, mk.title)));
    }
    svg.append(s('line', {x1: m.l, x2: width - m.r, y1: m.t + ph, y2: m.t + ph, class: 'axis'}));
    host.replaceChildren(svg);
  }

  function legend(hostId, items) {
    $(hostId).replaceChildren(...items.map(([label, color, dashed]) => {
      const sw = h('span', {class: dashed ? 'swatch dashed' : 'swatch'});
      if (dashed) sw.style.borderColor = color;
      else sw.style.background = color;
      return h('span', {class: 'legend-item'}, sw, label);
    }));
  }

  function renderCharts(d) {
    $('charts').hidden = !d;
    if (!d) return;
    const events = state.events;
    const x0 = time(d.created_at);
    const last = events.length ? time(events[events.length - 1].time) : x0;
    const end = isActive(d) ? Math.max(Date.now(), last) : Math.max(last, time(d.updated_at));
    const x1 = Math.max(end, x0 + 10000);

    // Canary weight: a step line from every weight the events record.
    const weight = [];
    for (const e of events) {
      if (typeof e.weight_after !== 'number') continue;
      const t = time(e.time);
      if (!weight.length) weight.push([x0, typeof e.weight_before === 'number' && e.kind !== 'transition'
        ? e.weight_before : e.weight_after]);
      if (weight[weight.length - 1][1] !== e.weight_after) weight.push([t, e.weight_after]);
    }
    if (!weight.length) weight.push([x0, d.canary_weight]);
    weight.push([x1, d.canary_weight]);
    const weightAt = (t) => {
      let w = weight[0][1];
      for (const [pt, pv] of weight) if (pt <= t) w = pv;
      return w;
    };

    const checks = events.filter((e) => e.kind === 'check' && e.check);
    const markers = checks.map((e) => ({
      t: time(e.time), v: weightAt(time(e.time)), color: COLORS.verdict[e.check.verdict] || '#9ca3af',
      title: `check #${e.seq}: ${e.check.verdict.replace(/_/g, ' ')}: ${e.check.reason || e.reason}`,
    }));
    drawChart($('chart-weight'), {
      label: 'canary weight over time', x0, x1,
      series: [{label: 'canary weight', color: COLORS.canary, points: weight, step: true, area: true,
                width: 2.5}],
      markers,
      y: {max: 1, format: (v) => `${Math.round(v * 100)}%`},
    });
    legend('legend-weight', [['weight', COLORS.canary], ['healthy', COLORS.verdict.healthy],
                             ['inconclusive', COLORS.verdict.inconclusive],
                             ['breached', COLORS.verdict.latency_breached]]);

    // Latency and error rate of both variants, with the thresholds.
    const has = (m) => m && m.invocations > 0;
    const pt = (e, side, key) => [time(e.time), has(e.check[side]) ? e.check[side][key] : null];
    const th = (e) => e.check.thresholds || {};
    const canaryP99 = checks.map((e) => pt(e, 'canary', 'p99_ms'));
    const prodP99 = checks.map((e) => pt(e, 'production', 'p99_ms'));
    const canaryErr = checks.map((e) => pt(e, 'canary', 'error_rate'));
    const prodErr = checks.map((e) => pt(e, 'production', 'error_rate'));
    const maxP99 = checks.length ? th(checks[checks.length - 1]).max_p99_ms : d.policy.max_p99_ms;
    const maxErr = checks.length ? th(checks[checks.length - 1]).max_error_rate : d.policy.max_error_rate;
    // The limits relative to production, where they are tighter than the absolute ones.
    const ratioLimit = checks.map((e) => {
      const p = e.check.production;
      // Judged only from latency_ratio_min_p99_ms up: the limit is the larger of the two.
      const v = has(p) && p.p99_ms > 0 ?
          Math.max(p.p99_ms * th(e).max_latency_ratio, th(e).latency_ratio_min_p99_ms || 0) : null;
      return [time(e.time), v !== null && v < th(e).max_p99_ms ? v : null];
    });
    const diffLimit = checks.map((e) => {
      const p = e.check.production;
      const v = has(p) ? p.error_rate + th(e).max_error_rate_diff : null;
      return [time(e.time), v !== null && v < th(e).max_error_rate ? v : null];
    });
    const flat = (v) => [[x0, v], [x1, v]];
    const values = (pts) => pts.map((p) => p[1]).filter((v) => v !== null && isFinite(v));

    const latValues = [...values(canaryP99), ...values(prodP99)].filter((v) => v > 0);
    const latMax = Math.max(maxP99, ...latValues, ...values(ratioLimit));
    const latMin = latValues.length ? Math.min(...latValues) : maxP99 / 100;
    // A log scale when the data sit far below the limit: both stay readable.
    const log = latMax / Math.max(latMin, 1e-3) > 20;
    drawChart($('chart-latency'), {
      label: 'p99 latency of both variants over time', x0, x1,
      series: [
        {label: `max p99 ${maxP99} ms`, color: COLORS.limit, points: flat(maxP99), dash: '6 4', width: 1.5,
         endLabel: `limit ${ms(maxP99)}`},
        {label: 'production p99 × max ratio', color: COLORS.relative, points: ratioLimit, dash: '2 3',
         width: 1.5},
        {label: 'production p99', color: COLORS.production, points: prodP99, dots: true},
        {label: 'canary p99', color: COLORS.canary, points: canaryP99, dots: true},
      ],
      y: log ? {log: true, min: Math.max(latMin / 1.5, 1e-3), max: latMax, format: (v) => ms(v)}
             : {max: latMax * 1.15, format: (v) => `${+v.toPrecision(3)} ms`},
    });
    legend('legend-latency', [['production', COLORS.production], ['canary', COLORS.canary],
                              ['limit', COLORS.limit, true], ['ratio limit', COLORS.relative, true]]);

    const errMax = Math.max(maxErr, ...values(canaryErr), ...values(prodErr));
    drawChart($('chart-errors'), {
      label: 'error rate of both variants over time', x0, x1,
      series: [
        {label: `max error rate ${rate(maxErr)}`, color: COLORS.limit, points: flat(maxErr), dash: '6 4',
         width: 1.5, endLabel: `limit ${rate(maxErr)}`},
        {label: 'production error rate + max diff', color: COLORS.relative, points: diffLimit, dash: '2 3',
         width: 1.5},
        {label: 'production error rate', color: COLORS.production, points: prodErr, dots: true},
        {label: 'canary error rate', color: COLORS.canary, points: canaryErr, dots: true},
      ],
      y: {max: errMax * 1.15, format: (v) => rate(v)},
    });
    legend('legend-errors', [['production', COLORS.production], ['canary', COLORS.canary],
                             ['limit', COLORS.limit, true]]);

    // Prediction divergence (issue 14), each check on a chart and a scale of its own beside
    // p99 and errors: the canary's PSI against production's predictions, and the paired
    // disagreement (the share of requests both answered whose answers differ by more than
    // the tolerance), each when its check is on.
    const psiMax = d.policy.divergence_psi_max || 0;
    $('divergence-card').hidden = !(psiMax > 0);
    if (psiMax > 0) {
      const psi = checks.map((e) => [time(e.time), typeof e.check.psi === 'number' ? e.check.psi : null]);
      const psiTop = Math.max(psiMax, ...values(psi));
      drawChart($('chart-divergence'), {
        label: 'prediction divergence (PSI) of the canary over time', x0, x1,
        series: [
          {label: `max PSI ${psiMax}`, color: COLORS.limit, points: flat(psiMax), dash: '6 4', width: 1.5,
           endLabel: `limit ${psiMax}`},
          {label: 'canary PSI', color: COLORS.canary, points: psi, dots: true},
        ],
        y: {max: psiTop * 1.15, format: (v) => `${+v.toPrecision(3)}`},
      });
      legend('legend-divergence', [['canary PSI', COLORS.canary], ['limit', COLORS.limit, true]]);
    }
    const pairedMax = d.policy.divergence_max_disagreement || 0;
    $('paired-card').hidden = !(pairedMax > 0);
    if (pairedMax > 0) {
      const paired = checks.map((e) => [time(e.time),
                                        e.check.paired && typeof e.check.paired.disagreement === 'number' ?
                                            e.check.paired.disagreement : null]);
      const pairedTop = Math.min(1, Math.max(pairedMax, ...values(paired)) * 1.15);
      drawChart($('chart-paired'), {
        label: 'paired disagreement of the canary with production over time', x0, x1,
        series: [
          {label: `max disagreement ${rate(pairedMax)}`, color: COLORS.limit, points: flat(pairedMax),
           dash: '6 4', width: 1.5, endLabel: `limit ${rate(pairedMax)}`},
          {label: 'paired disagreement', color: COLORS.canary, points: paired, dots: true},
        ],
        y: {max: pairedTop, format: (v) => rate(v)},
      });
      legend('legend-paired', [['disagreeing pairs', COLORS.canary], ['limit', COLORS.limit, true]]);
    }
  }

  function eventDetail(e) {
    switch (e.kind) {
      case 'check': {
        const c = e.check;
        const side = (name, m) => h('span', {class: 'metric'}, h('b', {}, name), ' p99 ', ms(m.p99_ms),
                                    ' · err ', rate(m.error_rate), ' · n=', m.invocations);
        const ml = [];
        if (c.latency_test) ml.push(` · Mann-Whitney p ${c.latency_test.p.toPrecision(3)}, p50 ×${c.latency_test.effect.toFixed(2)}`);
        if (typeof c.psi === 'number') ml.push(` · PSI ${c.psi.toFixed(3)}`);
        if (c.paired) {
          ml.push(` · paired: ${rate(c.paired.disagreement)} disagree of ${c.paired.pairs}` +
                  ` (mean |Δ| ${Number(c.paired.mean_abs_diff).toPrecision(3)})`);
        }
        return h('div', {class: 'detail'}, verdictBadge(c.verdict), ' ',
                 side('canary', c.canary), ' ', side('prod', c.production), ...ml);
      }
      case 'transition':
        if (e.from_state === e.to_state) {  // the deployment's creation
          return h('div', {class: 'detail'}, 'created ', h('span', {class: stateClass(e.to_state)}, e.to_state));
        }
        return h('div', {class: 'detail'}, h('span', {class: stateClass(e.from_state)}, e.from_state), ' → ',
                 h('span', {class: stateClass(e.to_state)}, e.to_state),
                 e.weight_before !== e.weight_after ? ` ${pct(e.weight_before)} → ${pct(e.weight_after)}` : '');
      case 'weight_change':
        return h('div', {class: 'detail weight-change'}, `${pct(e.weight_before)} → `,
                 h('strong', {}, pct(e.weight_after)));
      default:
        return h('div', {class: 'detail'}, `weight ${pct(e.weight_after)}`);
    }
  }

  function renderEvents(d) {
    $('events-panel').hidden = !d;
    if (!d) return;
    const rows = state.events.slice(-MAX_EVENT_ROWS).reverse().map((e) =>
      h('tr', {class: `event kind-${e.kind.replace(/_/g, '-')}`, 'data-seq': e.seq},
        h('td', {class: 'muted nowrap', title: e.time}, clock(e.time)),
        h('td', {}, h('span', {class: 'kind'}, e.kind.replace(/_/g, ' '))),
        h('td', {}, eventDetail(e)),
        h('td', {class: 'reason'}, (e.check && e.check.reason) || e.reason),
        h('td', {class: 'muted'}, e.actor)));
    const body = $('events').tBodies[0];
    if (!rows.length) {
      body.replaceChildren(h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'No events yet.')));
    } else {
      body.replaceChildren(...rows);
    }
  }

  function renderHistory() {
    const body = $('history').tBodies[0];
    if (!state.deployments.length) {
      body.replaceChildren(h('tr', {}, h('td', {colspan: 8, class: 'empty'}, 'No deployments yet.')));
      return;
    }
    body.replaceChildren(...state.deployments.map((d) => {
      const end = isActive(d) ? Date.now() : time(d.updated_at);
      return h('tr', {class: d.id === state.selectedId ? 'selected clickable' : 'clickable', 'data-id': d.id,
                      onclick: () => select(d.id, true), title: 'Show this deployment'},
               h('td', {}, h('span', {class: stateClass(d.state)}, d.state)),
               h('td', {class: 'mono'}, d.id),
               h('td', {}, d.endpoint),
               h('td', {}, d.canary_variant),
               h('td', {class: 'muted model', title: d.model && (d.model.path || d.model.url)},
                 modelLabel(d.model)),
               h('td', {class: 'num'}, pct(d.canary_weight)),
               h('td', {class: 'muted nowrap'}, dateTime(d.created_at)),
               h('td', {class: 'num muted'}, duration((end - time(d.created_at)) / 1000)));
    }));
  }

  function select(id, pinned) {
    state.pinned = pinned && !isActive(state.deployments.find((d) => d.id === id) || {});
    state.selectedId = id;
    render();
    if (state.eventsFor !== id) {
      state.events = [];
      render();
      schedule(0);
    }
    $('deployment-section').scrollIntoView({behavior: 'smooth', block: 'start'});
  }

  // --- Actions ---------------------------------------------------------------

  const ACTIONS = {
    pause: {title: 'Pause', text: 'Stops the checks; the weights stay where they are until you resume.',
            done: 'paused'},
    resume: {title: 'Resume', text: 'Starts the checks again; the bake at the current weight restarts.',
             done: 'resumed'},
    approve: {title: 'Approve',
              text: 'Passes the manual gate: the canary takes its next step now (checks go on).',
              done: 'approved'},
    rollback: {title: 'Roll back',
               text: 'Sends all traffic back to production (canary 0%) and ends the deployment.',
               done: 'rolled back'},
  };

  function openAction(kind) {
    const d = state.deployments.find((x) => x.id === state.selectedId);
    if (!d) return;
    state.action = {kind, id: d.id};
    $('action-title').textContent = `${ACTIONS[kind].title} ${d.id}?`;
    $('action-text').textContent = `${d.endpoint}: ${ACTIONS[kind].text}`;
    $('action-token').value = state.token;
    $('action-error').textContent = '';
    $('action-confirm').textContent = ACTIONS[kind].title;
    $('action-confirm').className = kind === 'rollback' ? 'danger' : 'primary';
    $('action-dialog').showModal();
    $('action-confirm').focus();
  }

  async function confirmAction(ev) {
    ev.preventDefault();
    const action = state.action;
    if (!action) return;
    const button = $('action-confirm');
    button.disabled = true;
    $('action-error').textContent = '';
    try {
      const d = await api('POST', `/v1/deployments/${encodeURIComponent(action.id)}/${action.kind}`,
                          $('action-token').value.trim());
      const i = state.deployments.findIndex((x) => x.id === d.id);
      if (i >= 0) state.deployments[i] = d;
      $('action-dialog').close();
      state.action = null;
      toast(`${d.id} ${ACTIONS[action.kind].done}: ${d.state}`, 'ok');
      render();
      schedule(0);
    } catch (e) {
      const why = {401: 'no valid token', 403: 'the token may not change anything',
                   409: 'not allowed in this state'}[e.status];
      const message = `Refused (${e.status || 'network'} ${e.code}${why ? `, ${why}` : ''}): ${e.message}`;
      $('action-error').textContent = message;  // in the dialog, which stays open
    } finally {
      button.disabled = false;
    }
  }

  // --- Wiring ----------------------------------------------------------------

  function init() {
    setToken(state.token);
    $('token-button').addEventListener('click', () => openTokenDialog(''));
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) {
        $('token-error').textContent = 'Enter the admin or the read-only token.';
        return;
      }
      setToken(token);
      state.error = '';
      $('token-dialog').close();
      schedule(0);
    });
    $('token-cancel').addEventListener('click', () => $('token-dialog').close());
    $('token-forget').addEventListener('click', () => {
      setToken('');
      clearTimeout(state.timer);
      $('token-dialog').close();
      renderLive();
    });
    for (const id of ['pause-button', 'resume-button', 'approve-button', 'rollback-button']) {
      $(id).addEventListener('click', (ev) => openAction(ev.currentTarget.dataset.action));
    }
    $('action-form').addEventListener('submit', confirmAction);
    $('action-cancel').addEventListener('click', () => {
      state.action = null;
      $('action-dialog').close();
    });
    $('follow-button').addEventListener('click', () => {
      state.pinned = false;
      chooseSelected();
      render();
      schedule(0);
    });
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => state.loaded && render(), 150);
    });
    // The "updated … ago" text ticks between polls.
    setInterval(renderLive, 1000);
    if (state.token) schedule(0);
    else openTokenDialog('');
  }

  init();
})();
