/* ticketflow supervisors' dashboard.
 *
 * The page holds no data. This script takes the supervisor's token from the URL fragment
 * (#token=… or Cognito's #id_token=…), keeps it in sessionStorage (this tab only) and takes
 * it out of the address bar, or asks for it with a form; then it draws every figure from
 * reports/* fetched with "Authorization: Bearer …". URLs are relative to the page, which is
 * /dashboard locally and /<stage>/dashboard on AWS.
 *
 * For tests and tools: <body data-state="loading|ready|signin|error"> (data-error names the
 * failure: unauthorized, forbidden, failed), each KPI's element has data-kpi=<name> with the
 * displayed text and data-value=<the report's raw number>, agent rows have data-agent=<id>
 * and cells data-col=<report field> with data-value.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("i18n").textContent);
  var T = config.text;
  var TOKEN_KEY = "ticketflow.dashboard.token";
  var PREFS_KEY = "ticketflow.dashboard.prefs";
  var REFRESH_MS = 60000;
  var COLORS = {
    blue: "#2563eb",
    teal: "#0d9488",
    amber: "#d97706",
    purple: "#7c3aed",
    red: "#dc2626",
    slate: "#64748b",
    grid: "#e8edf3",
  };

  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  var state = { token: null, busy: false, again: false, loadedAt: 0, teams: new Set(), charts: {}, queries: {}, timer: null };

  // ---- words and numbers ------------------------------------------------------------

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined || values[name] === null ? T.none : values[name];
    });
  }
  var numberFormat = new Intl.NumberFormat(T.locale, { maximumFractionDigits: 1 });
  function isNum(value) { return typeof value === "number" && isFinite(value); }
  function trim1(value) { return numberFormat.format(Math.round(value * 10) / 10); }
  var fmt = {
    int: function (n) { return isNum(n) ? numberFormat.format(n) : T.none; },
    pct: function (r) { return isNum(r) ? trim1(r * 100) + "%" : T.none; },
    duration: function (s) {
      if (!isNum(s)) return T.none;
      if (s < 60) return fill(T.units.s, { n: Math.round(s) });
      if (s < 3600) return fill(T.units.min, { n: Math.round(s / 60) });
      if (s < 86400) return fill(T.units.h, { n: trim1(s / 3600) });
      return fill(T.units.d, { n: trim1(s / 86400) });
    },
    csat: function (m) { return isNum(m) ? fill(T.out_of_5, { n: m.toFixed(1) }) : T.none; },
    score: function (m) { return isNum(m) ? m.toFixed(1) : T.none; },
    nps: function (n) { return isNum(n) ? trim1(n) : T.none; },
  };
  function minutes(s) { return isNum(s) ? Math.round(s / 6) / 10 : null; }
  function percent(r) { return isNum(r) ? Math.round(r * 1000) / 10 : null; }
  function teamName(id) { return T.teams[id] || id; }
  function periodName(days) { return days === 1 ? T.period_of["1"] : fill(T.period_of.n, { n: days }); }
  function ageLabel(label) {
    var m;
    if ((m = /^<(\d+)d$/.exec(label))) return fill(T.ages.lt, { n: m[1] });
    if ((m = /^(\d+)-(\d+)d$/.exec(label))) return fill(T.ages.range, { a: m[1], b: m[2] });
    if ((m = /^>=(\d+)d$/.exec(label))) return fill(T.ages.ge, { n: m[1] });
    return label;
  }
  function addDays(isoDate, days) {
    var d = new Date(isoDate + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }
  function last(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }
  function sum(values) { return values.reduce(function (a, b) { return a + (b || 0); }, 0); }

  // ---- state of the page ------------------------------------------------------------

  function setState(name, error) {
    body.setAttribute("data-state", name);
    if (error) body.setAttribute("data-error", error);
    else body.removeAttribute("data-error");
  }
  function say(text, isError) {
    var status = $("status");
    status.textContent = text || "";
    status.classList.toggle("error", !!isError);
  }
  function showSignin(message) {
    $("board").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    var box = $("signin-message");
    box.textContent = message || "";
    box.hidden = !message;
    say("");
    $("token").focus();
  }
  function showBoard() {
    $("signin").hidden = true;
    $("board").hidden = false;
    $("signout").hidden = false;
  }
  function prefs() {
    try { return JSON.parse(sessionStorage.getItem(PREFS_KEY)) || {}; } catch (e) { return {}; }
  }
  function savePrefs() {
    sessionStorage.setItem(PREFS_KEY, JSON.stringify({ days: selectedDays(), team: $("team").value }));
  }
  function selectedDays() {
    var checked = document.querySelector('input[name="period"]:checked');
    return checked ? parseInt(checked.value, 10) : 7;
  }

  function takeToken() {
    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    var given = hash.get("token") || hash.get("id_token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
    }
    if (location.hash) {
      // Out of the address bar and the history: the token is a credential.
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // ---- the reports API ----------------------------------------------------------------

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }
  function reportUrl(kind, params) {
    var url = new URL("reports/" + kind, document.baseURI);
    Object.keys(params || {}).forEach(function (name) {
      if (params[name]) url.searchParams.set(name, params[name]);
    });
    return url;
  }
  async function api(kind, params, asCsv) {
    var response;
    try {
      response = await fetch(reportUrl(kind, Object.assign({}, params, asCsv ? { format: "csv" } : {})), {
        headers: { Authorization: "Bearer " + state.token, Accept: asCsv ? "text/csv" : "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "network", T.msg.network);
    }
    if (response.ok) return asCsv ? response : response.json();
    var message = response.status + " " + response.statusText;
    try {
      var error = (await response.json()).error;
      if (error && error.message) message = error.message;
    } catch (e) { /* not our JSON error body */ }
    throw new ApiError(response.status, response.status === 401 ? "unauthorized" : response.status === 403 ? "forbidden" : "failed", message);
  }

  // ---- loading ------------------------------------------------------------------------

  async function load() {
    if (!state.token) return;
    if (state.busy) {
      state.again = true; // a change while loading: load once more with it afterwards
      return;
    }
    state.busy = true;
    state.again = false;
    setState("loading");
    $("refresh").setAttribute("aria-busy", "true");
    if (!state.loadedAt) say(T.loading);
    try {
      // The business day is the server's (its time zone, its clock): a default summary says it.
      var probe = await api("summary", {});
      var today = probe.period.to;
      var days = selectedDays();
      var team = $("team").value || undefined;
      var period = { from: addDays(today, 1 - days), to: today, team: team };
      state.queries = { summary: { from: today, to: today, team: team }, timeseries: period, agents: period };
      var results = await Promise.all([
        api("summary", state.queries.summary),
        api("timeseries", period),
        api("agents", period),
      ]);
      draw(results[0], results[1], results[2], days, probe.period.time_zone);
      state.loadedAt = Date.now();
      $("updated").textContent = fill(T.updated, { time: new Date().toLocaleTimeString(T.locale) });
      say("");
      setState("ready");
    } catch (error) {
      if (!(error instanceof ApiError)) {
        say(fill(T.msg.failed, { message: String(error && error.message || error) }), true);
        setState("error", "failed");
      } else if (error.code === "unauthorized" || error.code === "forbidden") {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        showSignin(T.msg[error.code]);
        setState("error", error.code);
      } else {
        say(error.code === "network" ? T.msg.network : fill(T.msg.failed, { message: error.message }), true);
        setState("error", error.code);
      }
    } finally {
      state.busy = false;
      $("refresh").removeAttribute("aria-busy");
      if (state.again && state.token) load();
    }
  }

  function draw(summary, series, agents, days, timeZone) {
    $("today-date").textContent = fill(T.today_of, { date: summary.period.to, tz: timeZone });
    document.querySelectorAll("[data-period-label]").forEach(function (el) {
      el.textContent = periodName(days) + " · " + series.period.from + " – " + series.period.to;
    });
    drawCards(summary);
    drawTeams(agents);
    drawCharts(summary, series.days, days);
    drawAgents(agents);
  }

  function drawCards(s) {
    var frt = s.first_response_time;
    var fcr = s.first_contact_resolution;
    var cards = {
      created: [s.tickets.created, fmt.int, fill(T.sub.created, { assigned: s.tickets.assigned })],
      resolved: [s.tickets.resolved, fmt.int, fill(T.sub.resolved, { closed: s.tickets.closed, reopened: s.tickets.reopened })],
      backlog: [
        s.backlog.open,
        fmt.int,
        s.backlog.oldest_created_on ? fill(T.sub.backlog, { oldest: s.backlog.oldest_created_on }) : T.sub.backlog_none,
      ],
      frt_p50: [frt.p50_s, fmt.duration, fill(T.sub.frt_p50, { mean: fmt.duration(frt.mean_s), p90: fmt.duration(frt.p90_s), count: frt.count })],
      aht: [s.handle_time.mean_s, fmt.duration, fill(T.sub.aht, { count: s.handle_time.count })],
      fcr: [fcr.rate, fmt.pct, fill(T.sub.fcr, { fcr: fcr.resolved_at_first_contact, first: fcr.first_resolutions })],
      sla: [s.sla.all.compliance, fmt.pct, fill(T.sub.sla, { met: s.sla.all.met, breached: s.sla.all.breached })],
      csat: [s.csat.mean, fmt.csat, fill(T.sub.csat, { answered: s.csat.answered, rate: fmt.pct(s.csat.response_rate) })],
      nps: [s.nps.score, fmt.nps, fill(T.sub.nps, { promoters: s.nps.promoters, passives: s.nps.passives, detractors: s.nps.detractors })],
      auto_reply: [s.auto_reply_rate, fmt.pct, fill(T.sub.auto_reply, { auto: s.tickets.auto_replied, created: s.tickets.created })],
    };
    config.kpis.forEach(function (name) {
      var card = cards[name];
      var value = document.querySelector('[data-kpi="' + name + '"]');
      value.textContent = card[1](card[0]);
      value.setAttribute("data-value", card[0] === null || card[0] === undefined ? "" : String(card[0]));
      document.querySelector('[data-sub="' + name + '"]').textContent = card[2];
    });
  }

  function drawTeams(agents) {
    // Teams as the directory has them, from the agents' rows; the list only grows (a filtered
    // report lists one team's people).
    var before = state.teams.size;
    agents.agents.forEach(function (row) { (row.teams || []).forEach(function (t) { state.teams.add(t); }); });
    if (agents.filter && agents.filter.dimension === "team") state.teams.add(agents.filter.value);
    var select = $("team");
    if (state.teams.size === before && select.options.length > 1) return;
    var chosen = select.value || prefs().team || "";
    while (select.options.length > 1) select.remove(1);
    Array.from(state.teams).sort().forEach(function (id) {
      select.add(new Option(teamName(id), id));
    });
    if (state.teams.has(chosen)) select.value = chosen;
  }

  // ---- charts ---------------------------------------------------------------------------

  function baseOptions(extra) {
    var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduced ? false : { duration: 400 },
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, padding: 14 } } },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { precision: 0, maxTicksLimit: 6 } },
      },
    };
    return deepMerge(options, extra || {});
  }
  function deepMerge(target, source) {
    Object.keys(source).forEach(function (key) {
      var value = source[key];
      if (value && typeof value === "object" && !Array.isArray(value) && typeof target[key] === "object" && target[key]) {
        deepMerge(target[key], value);
      } else {
        target[key] = value;
      }
    });
    return target;
  }
  function line(label, data, color, extra) {
    return Object.assign({
      type: "line", label: label, data: data, borderColor: color, backgroundColor: color,
      borderWidth: 2, pointRadius: data.length > 31 ? 0 : 3, pointHoverRadius: 4, tension: 0.25, spanGaps: false,
    }, extra || {});
  }
  function bar(label, data, color, extra) {
    return Object.assign({
      type: "bar", label: label, data: data, backgroundColor: color, borderRadius: 4, maxBarThickness: 28,
    }, extra || {});
  }

  function chartData(summary, rows, days) {
    var col = function (key) { return rows.map(function (r) { return r[key] === undefined ? null : r[key]; }); };
    var labels = rows.map(function (r) { return r.date.slice(5); });
    var ages = summary.backlog.ages;
    var scores = ["1", "2", "3", "4", "5"].map(function (n) { return sum(col("csat.dimensions.overall.distribution." + n)); });
    var created = col("tickets.created");
    var resolved = col("tickets.resolved");
    var backlog = col("backlog.at_end_of_day");
    var p50 = col("first_response_time.p50_s");
    var p90 = col("first_response_time.p90_s");
    var csatMean = col("csat.mean");
    var answered = col("csat.answered");
    var slaAll = col("sla.all.compliance");
    var period = periodName(days);
    var listOf = function (names, values) {
      return names.map(function (n, i) { return n + " " + values[i]; }).join(T.locale.indexOf("zh") === 0 ? "，" : ", ");
    };
    var ageNames = Object.keys(ages).map(ageLabel);
    var scoreNames = ["1", "2", "3", "4", "5"].map(function (n) { return fill(T.score, { n: n }); });
    return {
      volume: {
        data: {
          labels: labels,
          datasets: [
            bar(T.series.created, created, COLORS.blue, { order: 2 }),
            bar(T.series.resolved, resolved, COLORS.teal, { order: 3 }),
            line(T.series.backlog, backlog, COLORS.amber, { order: 1 }),
          ],
        },
        aria: fill(T.aria.volume, { period: period, created: sum(created), resolved: sum(resolved), backlog: fmt.int(last(backlog)) }),
      },
      frt: {
        data: {
          labels: labels,
          datasets: [
            line(T.series.mean, col("first_response_time.mean_s").map(minutes), COLORS.slate, { borderWidth: 1.5 }),
            line(T.series.p50, p50.map(minutes), COLORS.blue),
            line(T.series.p90, p90.map(minutes), COLORS.red),
          ],
        },
        options: { scales: { y: { ticks: { precision: 1 } } } },
        aria: fill(T.aria.frt, { period: period, p50: fmt.duration(last(p50)), p90: fmt.duration(last(p90)) }),
      },
      sla: {
        data: {
          labels: labels,
          datasets: [
            line(T.series.all, slaAll.map(percent), COLORS.blue, { borderWidth: 3 }),
            line(T.series.first_response, col("sla.first_response.compliance").map(percent), COLORS.teal),
            line(T.series.next_response, col("sla.next_response.compliance").map(percent), COLORS.purple),
            line(T.series.resolution, col("sla.resolution.compliance").map(percent), COLORS.amber),
          ],
        },
        options: { scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } } },
        aria: fill(T.aria.sla, { period: period, all: fmt.pct(last(slaAll)) }),
      },
      csat: {
        data: {
          labels: labels,
          datasets: [
            line(T.series.csat, csatMean, COLORS.purple, { yAxisID: "y", order: 1 }),
            bar(T.series.answered, answered, "rgba(124, 58, 237, 0.18)", { yAxisID: "y1", order: 2 }),
          ],
        },
        options: {
          scales: {
            y: { min: 1, max: 5, beginAtZero: false, ticks: { stepSize: 1 } },
            y1: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { precision: 0 } },
          },
        },
        aria: fill(T.aria.csat, { period: period, answered: sum(answered), mean: fmt.score(last(csatMean)) }),
      },
      ages: {
        data: {
          labels: ageNames,
          datasets: [bar(T.series.open, Object.values(ages), [COLORS.teal, COLORS.blue, COLORS.amber, COLORS.red, COLORS.red])],
        },
        options: { plugins: { legend: { display: false } } },
        aria: fill(T.aria.ages, { list: listOf(ageNames, Object.values(ages)) }),
      },
      scores: {
        data: {
          labels: scoreNames,
          datasets: [bar(T.series.scores, scores, ["#dc2626", "#f97316", "#eab308", "#84cc16", "#16a34a"])],
        },
        options: { plugins: { legend: { display: false } } },
        aria: fill(T.aria.scores, { period: period, list: listOf(scoreNames, scores) }),
      },
    };
  }

  function drawCharts(summary, rows, days) {
    var specs = chartData(summary, rows, days);
    config.charts.forEach(function (name) {
      var spec = specs[name];
      var canvas = document.querySelector('canvas[data-chart="' + name + '"]');
      var title = document.getElementById("chart-" + name + "-title").textContent;
      canvas.setAttribute("aria-label", title + (config.lang === "zh" ? "：" : ": ") + spec.aria);
      if (!window.Chart) return; // the cards and the table still work
      var chart = state.charts[name];
      if (chart) {
        chart.data = spec.data;
        chart.update("none");
      } else {
        state.charts[name] = new window.Chart(canvas, { type: "bar", data: spec.data, options: baseOptions(spec.options) });
      }
    });
  }

  // ---- the agents table -------------------------------------------------------------------

  var columnFormat = {
    assigned: fmt.int,
    resolved: fmt.int,
    first_response_p50_s: fmt.duration,
    handle_time_mean_s: fmt.duration,
    fcr_rate: fmt.pct,
    sla_compliance: fmt.pct,
    csat_mean: fmt.score,
    open_now: fmt.int,
  };

  function cells(row, tr) {
    config.columns.forEach(function (column) {
      var td = document.createElement("td");
      var value = row[column];
      td.setAttribute("data-col", column);
      td.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
      td.textContent = columnFormat[column](value);
      tr.appendChild(td);
    });
  }

  function drawAgents(report) {
    var tbody = $("agents-body");
    var tfoot = $("agents-foot");
    tbody.textContent = "";
    tfoot.textContent = "";
    report.agents.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-agent", row.agent);
      if (!row.assigned && !row.resolved && !row.open_now && !row.replies) tr.className = "idle";
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.name || row.agent;
      var small = document.createElement("small");
      small.textContent = [row.agent].concat((row.teams || []).map(teamName)).join(" · ");
      th.appendChild(small);
      tr.appendChild(th);
      cells(row, tr);
      tbody.appendChild(tr);
    });
    if (!report.agents.length) {
      var empty = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = config.columns.length + 1;
      td.className = "empty";
      td.textContent = T.no_agents;
      empty.appendChild(td);
      tbody.appendChild(empty);
    }
    var total = document.createElement("tr");
    total.setAttribute("data-agent", "TOTAL");
    var head = document.createElement("th");
    head.scope = "row";
    head.textContent = T.total;
    total.appendChild(head);
    cells(report.totals, total);
    tfoot.appendChild(total);
  }

  // ---- CSV: fetched with the token, saved through a Blob URL -------------------------------

  async function downloadCsv(kind) {
    var query = state.queries[kind];
    if (!query || !state.token) return;
    try {
      var response = await api(kind, query, true);
      var disposition = response.headers.get("Content-Disposition") || "";
      var match = /filename="?([^";]+)"?/.exec(disposition);
      var blob = await response.blob();
      var url = URL.createObjectURL(blob);
      var link = document.createElement("a");
      link.href = url;
      link.download = match ? match[1] : "ticketflow-" + kind + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    } catch (error) {
      say(fill(T.msg.failed, { message: error.message || String(error) }), true);
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  function start() {
    if (window.Chart) {
      var style = getComputedStyle(document.body);
      window.Chart.defaults.font.family = style.fontFamily;
      window.Chart.defaults.font.size = 12;
      window.Chart.defaults.color = "#5b6577";
    }
    var saved = prefs();
    if (saved.days) {
      var radio = $("period-" + saved.days);
      if (radio) radio.checked = true;
    }
    if (saved.team) $("team").add(new Option(teamName(saved.team), saved.team, true, true));

    $("signin-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim().replace(/^Bearer\s+/i, "");
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      state.token = token;
      $("token").value = "";
      showBoard();
      load();
    });
    $("signout").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      setState("signin");
      showSignin("");
    });
    $("controls").addEventListener("change", function () { savePrefs(); load(); });
    $("controls").addEventListener("submit", function (event) { event.preventDefault(); });
    $("refresh").addEventListener("click", load);
    document.querySelectorAll("[data-csv]").forEach(function (button) {
      button.addEventListener("click", function () { downloadCsv(button.getAttribute("data-csv")); });
    });
    state.timer = setInterval(function () {
      if (!document.hidden && state.token) load();
    }, REFRESH_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.token && Date.now() - state.loadedAt > REFRESH_MS) load();
    });

    state.token = takeToken();
    if (!state.token) {
      setState("signin");
      showSignin("");
      return;
    }
    showBoard();
    load();
  }

  start();
})();
