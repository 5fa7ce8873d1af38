import Hummingbird
import NIOCore

/// The operator console, `GET /console`: one HTML page, its script and its style sheet,
/// served by the server itself (no asset from elsewhere, no build step). The page holds no
/// data: it asks the admin API (`/admin/...`) for everything with the admin token the
/// operator signs in with, which it keeps in the tab's `sessionStorage` (never in a URL) and
/// sends as a bearer header. Every value it shows is inserted as text, never as HTML; a
/// strict Content-Security-Policy admits only the server's own script, style and requests.
enum ConsolePage {
    /// The Content-Security-Policy of the page: nothing but its own script, style sheet and
    /// requests to this server; no inline script, no frame, no form posted elsewhere.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// Adds `GET /console`, `/console/console.js` and `/console/console.css`, without auth.
    static func addRoutes(to router: Router<FerryRequestContext>) {
        let page = ByteBuffer(string: html)
        let script = ByteBuffer(string: javascript)
        let style = ByteBuffer(string: css)
        router.get("console") { _, _ in response(page, type: "text/html; charset=utf-8") }
        router.get("console/console.js") { _, _ in response(script, type: "text/javascript; charset=utf-8") }
        router.get("console/console.css") { _, _ in response(style, type: "text/css; charset=utf-8") }
    }

    private static func response(_ body: ByteBuffer, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.cacheControl] = "no-store"
        headers[HTTPFields.Element.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPFields.Element.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPFields.Element.Name("X-Frame-Options")!] = "DENY"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The page.
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Ferry console</title>
        <link rel="stylesheet" href="/console/console.css">
        <script src="/console/console.js" defer></script>
        </head>
        <body>
        <header>
          <h1>Ferry console</h1>
          <span id="health-pill" class="pill">…</span>
          <span id="updated" class="muted"></span>
          <button id="signout" type="button" hidden>Sign out</button>
        </header>
        <section id="signin">
          <h2>Sign in</h2>
          <p>Paste an admin token (<code>ferry token create --admin</code>). It stays in this tab's session storage only.</p>
          <form id="signin-form" autocomplete="off">
            <input id="token-input" type="password" placeholder="admin token" required>
            <button id="signin-button" type="submit">Sign in</button>
          </form>
          <p id="signin-error" class="error"></p>
        </section>
        <main id="console" hidden>
          <p id="console-error" class="error"></p>
          <section>
            <h2>Server</h2>
            <dl id="health" class="facts"></dl>
          </section>
          <section>
            <h2>Spaces</h2>
            <table>
              <thead><tr><th>space</th><th class="num">head seq</th><th class="num">log size</th><th class="num">floor</th><th>last write</th><th class="num">writes/min</th><th class="num">devices</th></tr></thead>
              <tbody id="spaces-body"></tbody>
            </table>
            <p id="spaces-more" class="muted"></p>
          </section>
          <section>
            <h2>Devices of <span id="selected-space">—</span></h2>
            <p class="muted">Seen by this server process since it started (pushes, and pulls that name their device with <code>exclude_device</code>).</p>
            <table>
              <thead><tr><th>device</th><th>last seen</th><th>last push</th><th>last pull</th><th class="num">cursor</th><th class="num">lag</th></tr></thead>
              <tbody id="devices-body"></tbody>
            </table>
            <h3>Stream checkpoints</h3>
            <table>
              <thead><tr><th>device</th><th>type</th><th class="num">seq</th><th class="num">lag</th><th>log</th></tr></thead>
              <tbody id="checkpoints-body"></tbody>
            </table>
          </section>
          <section>
            <h2>Recent conflicts</h2>
            <table>
              <thead><tr><th>when</th><th>space</th><th>device</th><th>record</th><th class="num">base seq</th><th class="num">current seq</th></tr></thead>
              <tbody id="conflicts-body"></tbody>
            </table>
          </section>
          <section>
            <h2>Tokens</h2>
            <table>
              <thead><tr><th>grant</th><th>spaces</th><th>created</th><th>access expires</th><th>state</th><th></th></tr></thead>
              <tbody id="tokens-body"></tbody>
            </table>
          </section>
        </main>
        </body>
        </html>
        """#

    /// The page's script.
    static let javascript = #"""
        "use strict";
        // The operator console of a Ferry server. The admin token is kept in this tab's
        // sessionStorage only and sent as a bearer header; every value from the server goes into the
        // page through textContent, never as HTML.
        (function () {
          const TOKEN_KEY = "ferry.adminToken";
          const REFRESH_MS = 2000;
          let selectedSpace = null;
          let timer = null;
          const armed = new Set();

          const $ = (id) => document.getElementById(id);

          function token() { return sessionStorage.getItem(TOKEN_KEY); }

          class Refused extends Error {}

          async function api(method, path) {
            const response = await fetch(path, {
              method: method,
              headers: { "Authorization": "Bearer " + token(), "Accept": "application/json" },
              cache: "no-store",
              credentials: "omit",
              referrerPolicy: "no-referrer"
            });
            if (response.status === 401 || response.status === 403) {
              throw new Refused("the token was refused (" + response.status + ")");
            }
            if (response.status === 204) { return null; }
            const body = await response.json().catch(() => null);
            if (!response.ok && !(path === "/admin/health" && body)) {
              const message = body && body.error ? body.error.message : response.statusText;
              throw new Error(method + " " + path + ": " + response.status + " " + message);
            }
            return body;
          }

          function cell(row, text, className) {
            const td = document.createElement("td");
            td.textContent = text === undefined || text === null ? "—" : String(text);
            if (className) { td.className = className; }
            row.appendChild(td);
            return td;
          }

          // An instant as "YYYY-MM-DD HH:MM:SSZ (N min ago)", coarse enough that a table whose data
          // did not change renders the same text for a while (see unchanged()).
          function when(value) {
            if (value === undefined || value === null) { return "—"; }
            const date = new Date(value);
            if (isNaN(date.getTime())) { return String(value); }
            const minutes = Math.floor(Math.abs(Date.now() - date.getTime()) / 60000);
            const span = minutes < 1 ? "under a minute" : minutes < 90 ? minutes + " min" : minutes < 2880 ? Math.round(minutes / 60) + " h" : Math.round(minutes / 1440) + " days";
            const relative = date.getTime() > Date.now() + 1000 ? "in " + span : span + " ago";
            const text = date.toISOString();
            const shown = text.slice(0, 10) === new Date().toISOString().slice(0, 10) ? text.slice(11, 19) + "Z" : text.slice(0, 16).replace("T", " ") + "Z";
            return shown + " (" + relative + ")";
          }

          // Whether `element` shows `content` already; if not, remembers it. A table is rebuilt only
          // when what it shows changes, so that a row or a button is not replaced under the pointer.
          function unchanged(element, content) {
            const signature = JSON.stringify(content);
            if (element.dataset.signature === signature) { return true; }
            element.dataset.signature = signature;
            return false;
          }

          function fact(list, name, value) {
            const dt = document.createElement("dt");
            dt.textContent = name;
            const dd = document.createElement("dd");
            dd.textContent = value === undefined || value === null ? "—" : String(value);
            list.appendChild(dt);
            list.appendChild(dd);
          }

          function showHealth(health) {
            const pill = $("health-pill");
            pill.textContent = health.status === "ok" ? "healthy" : "storage unavailable";
            pill.className = "pill " + (health.status === "ok" ? "ok" : "bad");
            const list = $("health");
            const storage = health.storage || {};
            if (unchanged(list, [health, when(health.started_at)])) { return; }
            list.replaceChildren();
            fact(list, "status", health.status);
            fact(list, "storage", storage.kind);
            fact(list, "reachable", storage.reachable ? "yes (" + storage.check_ms + " ms)" : "no");
            if (storage.max_connections !== undefined) { fact(list, "pool size", storage.max_connections); }
            if (storage.operation_timeout_ms !== undefined) { fact(list, "operation timeout", storage.operation_timeout_ms + " ms"); }
            fact(list, "started", when(health.started_at));
            fact(list, "uptime", health.uptime_seconds + " s");
            const registry = health.registry || {};
            fact(list, "devices seen", registry.devices + " in " + registry.spaces + " spaces (at most " + registry.max_devices_per_space + " per space)");
            fact(list, "conflicts kept", registry.conflicts + " of " + registry.max_conflicts);
            if (health.error) { fact(list, "error", health.error.message); }
          }

          function showSpaces(listing) {
            const body = $("spaces-body");
            const names = listing.spaces.map((space) => space.space);
            if (selectedSpace === null || names.indexOf(selectedSpace) < 0) { selectedSpace = names.length > 0 ? names[0] : null; }
            $("spaces-more").textContent = listing.next_after ? "More spaces follow (the first page is shown)." : "";
            if (unchanged(body, [listing.spaces, selectedSpace, listing.spaces.map((space) => when(space.last_write_at))])) { return; }
            body.replaceChildren();
            for (const space of listing.spaces) {
              const row = document.createElement("tr");
              row.className = "selectable" + (space.space === selectedSpace ? " selected" : "");
              row.dataset.space = space.space;
              cell(row, space.space);
              cell(row, space.head_seq, "num");
              cell(row, space.mutations, "num");
              cell(row, space.floor_seq, "num");
              cell(row, when(space.last_write_at));
              cell(row, space.writes_per_minute + (space.writes_per_minute_capped ? "+" : ""), "num");
              cell(row, space.devices, "num");
              row.addEventListener("click", () => { selectedSpace = space.space; refresh(); });
              body.appendChild(row);
            }
            if (listing.spaces.length === 0) {
              const row = document.createElement("tr");
              cell(row, "no space has a log yet").colSpan = 7;
              body.appendChild(row);
            }
          }

          function showSpace(detail) {
            $("selected-space").textContent = detail ? detail.space : "—";
            const devices = $("devices-body");
            const checkpoints = $("checkpoints-body");
            const shown = detail ? [detail, detail.devices.map((device) => [when(device.last_push_at), when(device.last_pull_at)])] : null;
            if (unchanged(devices, shown)) { return; }
            devices.replaceChildren();
            checkpoints.replaceChildren();
            if (!detail) { return; }
            for (const device of detail.devices) {
              const row = document.createElement("tr");
              row.dataset.device = device.device_id;
              cell(row, device.device_id);
              cell(row, when(device.last_seen_at));
              cell(row, when(device.last_push_at));
              cell(row, when(device.last_pull_at));
              cell(row, device.cursor, "num");
              cell(row, device.lag, "num");
              devices.appendChild(row);
            }
            for (const checkpoint of detail.checkpoints) {
              const row = document.createElement("tr");
              cell(row, checkpoint.device_id);
              cell(row, checkpoint.type);
              cell(row, checkpoint.seq, "num");
              cell(row, checkpoint.lag, "num");
              cell(row, checkpoint.current_log ? "current" : "replaced: resets");
              checkpoints.appendChild(row);
            }
          }

          function showConflicts(listing) {
            const body = $("conflicts-body");
            if (unchanged(body, [listing.conflicts, listing.conflicts.map((conflict) => when(conflict.at))])) { return; }
            body.replaceChildren();
            for (const conflict of listing.conflicts) {
              const row = document.createElement("tr");
              cell(row, when(conflict.at));
              cell(row, conflict.space);
              cell(row, conflict.device_id);
              cell(row, conflict.entity + "/" + conflict.entity_key);
              cell(row, conflict.base_seq, "num");
              cell(row, conflict.current_seq, "num");
              body.appendChild(row);
            }
          }

          let lastTokens = null;
          function showTokens(listing) {
            lastTokens = listing;
            const body = $("tokens-body");
            const times = listing.grants.map((grant) => [when(grant.created_at), when(grant.access_expires_at), when(grant.revoked_at)]);
            if (unchanged(body, [listing.grants, times, Array.from(armed)])) { return; }
            body.replaceChildren();
            for (const grant of listing.grants) {
              const row = document.createElement("tr");
              row.dataset.grant = grant.id;
              cell(row, grant.id);
              cell(row, grant.admin ? "admin" : grant.spaces.join(", "));
              cell(row, when(grant.created_at));
              cell(row, when(grant.access_expires_at));
              cell(row, grant.revoked_at ? "revoked " + when(grant.revoked_at) : "active");
              const actions = cell(row, "");
              if (!grant.revoked_at) {
                const button = document.createElement("button");
                button.type = "button";
                button.className = "revoke" + (armed.has(grant.id) ? " confirm" : "");
                button.dataset.grant = grant.id;
                button.textContent = armed.has(grant.id) ? "Confirm revoke" : "Revoke";
                button.addEventListener("click", () => revoke(grant.id));
                actions.appendChild(button);
              }
              body.appendChild(row);
            }
          }

          async function revoke(grant) {
            if (!armed.has(grant)) {
              armed.add(grant);
              if (lastTokens) { showTokens(lastTokens); }
              return;
            }
            armed.delete(grant);
            try {
              await api("DELETE", "/admin/tokens/" + encodeURIComponent(grant));
              $("console-error").textContent = "";
            } catch (error) {
              handle(error);
            }
            refresh();
          }

          function handle(error) {
            if (error instanceof Refused) {
              signOut(error.message);
            } else {
              $("console-error").textContent = String(error.message || error);
            }
          }

          let running = false;
          async function refresh() {
            if (!token() || running) { return; }
            running = true;
            try {
              const [health, spaces, conflicts, tokens] = await Promise.all([
                api("GET", "/admin/health"),
                api("GET", "/admin/spaces?limit=100"),
                api("GET", "/admin/conflicts?limit=50"),
                api("GET", "/admin/tokens")
              ]);
              showHealth(health);
              showSpaces(spaces);
              showConflicts(conflicts);
              showTokens(tokens);
              showSpace(selectedSpace === null ? null : await api("GET", "/admin/spaces/" + encodeURIComponent(selectedSpace)));
              $("console-error").textContent = "";
              $("updated").textContent = "updated " + new Date().toLocaleTimeString();
            } catch (error) {
              handle(error);
            } finally {
              running = false;
            }
          }

          function signedIn() {
            $("signin").hidden = true;
            $("console").hidden = false;
            $("signout").hidden = false;
            refresh();
            if (timer === null) { timer = setInterval(refresh, REFRESH_MS); }
          }

          function signOut(message) {
            sessionStorage.removeItem(TOKEN_KEY);
            if (timer !== null) { clearInterval(timer); timer = null; }
            $("console").hidden = true;
            $("signout").hidden = true;
            $("signin").hidden = false;
            $("signin-error").textContent = message || "";
            $("health-pill").textContent = "signed out";
            $("health-pill").className = "pill";
            $("updated").textContent = "";
          }

          document.addEventListener("DOMContentLoaded", () => {
            $("signin-form").addEventListener("submit", async (event) => {
              event.preventDefault();
              const value = $("token-input").value.trim();
              if (!value) { return; }
              sessionStorage.setItem(TOKEN_KEY, value);
              $("token-input").value = "";
              try {
                await api("GET", "/admin/health");
                $("signin-error").textContent = "";
                signedIn();
              } catch (error) {
                signOut(error instanceof Refused ? "That is not an admin token of this server." : String(error.message || error));
              }
            });
            $("signout").addEventListener("click", () => signOut(""));
            if (token()) { signedIn(); } else { signOut(""); }
          });
        })();
        """#

    /// The page's style sheet.
    static let css = #"""
        :root { color-scheme: light; --fg: #1d2433; --muted: #6b7385; --line: #dde1ea; --accent: #2456d6; --bad: #b42318; --good: #157f3c; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f7fa; }
        header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
        h1 { font-size: 18px; margin: 0; }
        h2 { font-size: 15px; margin: 0 0 8px; }
        h3 { font-size: 13px; margin: 14px 0 6px; }
        main, #signin { padding: 14px 20px; max-width: 1200px; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin-bottom: 14px; overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { font-weight: 600; color: var(--muted); font-size: 12px; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        tbody tr.selectable { cursor: pointer; }
        tbody tr.selectable:hover { background: #f0f4ff; }
        tbody tr.selected { background: #e3ebff; }
        .muted { color: var(--muted); font-size: 12px; }
        .error { color: var(--bad); }
        .pill { padding: 2px 10px; border-radius: 10px; background: #eceef3; font-size: 12px; }
        .pill.ok { background: #dcf5e5; color: var(--good); }
        .pill.bad { background: #fde2e0; color: var(--bad); }
        .facts { display: grid; grid-template-columns: max-content auto max-content auto; gap: 4px 14px; margin: 0; }
        .facts dt { color: var(--muted); }
        .facts dd { margin: 0; }
        input[type=password] { width: 420px; max-width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; }
        button { padding: 5px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
        button.revoke { background: #fff; color: var(--bad); border-color: var(--bad); padding: 2px 10px; }
        button.revoke.confirm { background: var(--bad); color: #fff; }
        #signout { margin-left: auto; background: #fff; color: var(--accent); }
        """#
}
