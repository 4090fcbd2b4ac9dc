// bathos pages: the runs table (sort, filter, paginate, select) and, in a report, which page
// shows. Every value from the catalog goes into the page as text (textContent), never as markup.
"use strict";
(function () {
  const PAGE_SIZE = 100;
  const COLLATOR = new Intl.Collator(undefined, { numeric: true });

  function showPage() {
    const pages = document.querySelectorAll("section.page");
    if (pages.length < 2) return;
    const wanted = decodeURIComponent(location.hash.slice(1));
    let shown = null;
    pages.forEach(function (p) { if (p.id === wanted) shown = p; });
    shown = shown || pages[0];
    pages.forEach(function (p) { p.hidden = p !== shown; });
    window.scrollTo(0, 0);
  }

  function link(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return encodeURIComponent(values[k]); });
  }

  function matcher(text, kind) {
    const t = text.trim().toLowerCase();
    if (!t) return null;
    const cmp = /^(<=|>=|<|>|=)\s*(-?[\d.]+(?:e-?\d+)?)$/.exec(t);
    if (cmp && kind === "num") {
      const n = parseFloat(cmp[2]), op = cmp[1];
      return function (v) {
        if (v === null || v === undefined || v === "") return false;
        const x = Number(v);
        return op === "<" ? x < n : op === ">" ? x > n : op === "<=" ? x <= n
          : op === ">=" ? x >= n : x === n;
      };
    }
    return function (v) { return v !== null && v !== undefined && String(v).toLowerCase().includes(t); };
  }

  function compare(a, b) {
    const na = a === null || a === undefined || a === "", nb = b === null || b === undefined || b === "";
    if (na || nb) return na === nb ? 0 : na ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return COLLATOR.compare(String(a), String(b));
  }

  function cellText(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.join(", ");
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    return String(v);
  }

  function RunsTable(root) {
    const data = JSON.parse(root.querySelector("script.runs-data").textContent);
    const cols = data.columns, rows = data.rows, idCol = 0;
    const detailed = data.detailed ? new Set(data.detailed) : null;
    const state = { sort: data.sort === undefined ? null : data.sort, desc: true,
                    filters: {}, search: null, page: 0, selected: new Set() };
    const table = root.querySelector("table.runs");
    const thead = table.createTHead(), tbody = table.createTBody();
    const status = root.querySelector(".status"), compareBtn = root.querySelector("button.compare");
    const headRow = thead.insertRow(), filterRow = thead.insertRow();
    const picking = Boolean(data.links.compare);  // ticking runs is for comparing them
    if (picking) {
      headRow.insertCell().outerHTML = "<th></th>";
      filterRow.insertCell().outerHTML = "<th></th>";
    }
    cols.forEach(function (c, i) {
      const th = document.createElement("th");
      th.textContent = c.label; th.className = "sortable"; th.dataset.col = c.key;
      th.addEventListener("click", function () {
        state.desc = state.sort === i ? !state.desc : c.kind !== "text";
        state.sort = i; state.page = 0; render();
      });
      headRow.appendChild(th);
      const fh = document.createElement("th"), input = document.createElement("input");
      input.className = "filter"; input.dataset.col = c.key;
      input.placeholder = c.kind === "num" ? ">0.5" : "filter";
      input.setAttribute("aria-label", "filter " + c.label);
      input.addEventListener("input", debounce(function () {
        const m = matcher(input.value, c.kind);
        if (m) state.filters[i] = m; else delete state.filters[i];
        state.page = 0; render();
      }));
      fh.appendChild(input); filterRow.appendChild(fh);
    });
    const search = root.querySelector("input.search");
    if (search) search.addEventListener("input", debounce(function () {
      state.search = matcher(search.value, "text"); state.page = 0; render();
    }));
    root.querySelector("button.prev").addEventListener("click", function () { state.page--; render(); });
    root.querySelector("button.next").addEventListener("click", function () { state.page++; render(); });
    if (compareBtn) compareBtn.addEventListener("click", function () {
      location.href = link(data.links.compare, { ids: Array.from(state.selected).join(",") });
    });

    function matching() {
      const fs = Object.entries(state.filters);
      let out = rows.filter(function (r) {
        for (const [i, m] of fs) if (!m(cellText(r[i])) && !(cols[i].kind === "num" && m(r[i]))) return false;
        return !state.search || r.some(function (v) { return state.search(cellText(v)); });
      });
      if (state.sort !== null) {
        const i = state.sort, sign = state.desc ? -1 : 1;
        out = out.slice().sort(function (a, b) {
          const na = a[i] === null || a[i] === undefined || a[i] === "";
          const nb = b[i] === null || b[i] === undefined || b[i] === "";
          if (na || nb) return na === nb ? 0 : na ? 1 : -1;
          return sign * compare(a[i], b[i]);
        });
      }
      return out;
    }

    function render() {
      const found = matching(), pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      headRow.querySelectorAll("th.sortable").forEach(function (th, i) {
        if (i === state.sort) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      });
      const start = state.page * PAGE_SIZE, shown = found.slice(start, start + PAGE_SIZE);
      const body = document.createDocumentFragment();
      shown.forEach(function (r) {
        const tr = document.createElement("tr"), id = r[idCol];
        if (picking) tr.appendChild(pick(id));
        cols.forEach(function (c, i) {
          const td = document.createElement("td"), text = cellText(r[i]);
          if (c.kind === "num") td.className = "num";
          if (i === idCol && (!detailed || detailed.has(id))) {
            const a = document.createElement("a");
            a.href = link(data.links.run, { id: id }); a.textContent = text.slice(0, 12);
            td.appendChild(a); td.className = "mono";
          } else if (i === idCol) {
            td.textContent = text.slice(0, 12); td.className = "mono";
          } else if (c.kind === "badge" && text) {
            const b = document.createElement("span");
            b.className = "badge b-" + text.replace(/[^a-z-]/g, ""); b.textContent = text;
            td.appendChild(b);
          } else td.textContent = text;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      tbody.replaceChildren(body);
      status.textContent = (found.length ? (start + 1) + "–" + (start + shown.length) : "0") +
        " of " + found.length + (found.length !== rows.length ? " matching (" + rows.length + " runs)" : " runs") +
        " · page " + (state.page + 1) + " of " + pages;
      root.querySelector("button.prev").disabled = state.page === 0;
      root.querySelector("button.next").disabled = state.page >= pages - 1;
      update();
    }

    function pick(id) {
      const box = document.createElement("td"), check = document.createElement("input");
      check.type = "checkbox"; check.className = "pick"; check.value = id;
      check.checked = state.selected.has(id);
      check.setAttribute("aria-label", "select run " + id);
      check.addEventListener("change", function () {
        if (check.checked) state.selected.add(id); else state.selected.delete(id);
        update();
      });
      box.appendChild(check);
      return box;
    }

    function update() {
      if (!compareBtn) return;
      const n = state.selected.size;
      compareBtn.disabled = n < 2 || n > 10;
      compareBtn.textContent = "Compare selected (" + n + ")";
    }
    render();
  }

  function debounce(f) {
    let t = null;
    return function () { clearTimeout(t); t = setTimeout(f, 120); };
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".runs-table").forEach(RunsTable);
    showPage();
  });
  window.addEventListener("hashchange", showPage);
})();
