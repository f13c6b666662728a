// The memory page: sign in, show one user's facts and sleep history, and the buttons that
// change them. Everything goes through the REST memory API (api.js); the server decides
// what a key may see, the page only asks.

import { Api, ApiError, SERVER, Unreachable } from './api.js';
import { outcome, sleepChart } from './chart.js';

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage; // the key lives as long as this tab, no longer
const LONG = 30 * 60_000; // edits and sleeps on a small CPU take minutes

const state = { api: new Api(''), keyless: false, admin: false, fixedUser: false, busy: false };

// ------------------------------------------------------------------ messages
function banner(text, { retry = false, error = true } = {}) {
    $('banner').hidden = !text;
    $('banner').className = error ? 'error' : 'note';
    $('banner-text').textContent = text || '';
    $('retry').hidden = !retry;
}

function work(text, progress) {
    $('work').hidden = !text;
    $('work-text').textContent = text || '';
    const bar = $('work-progress');
    if (progress) {
        bar.max = progress.total;
        bar.value = progress.done;
    } else {
        bar.removeAttribute('value'); // indeterminate while the length is unknown
    }
}

function setBusy(on) {
    state.busy = on;
    for (const control of document.querySelectorAll('main button, main input')) control.disabled = on;
}

/** Run an action with the buttons off and a ticking message; every failure ends up as
 *  words in the banner, never as a spinner left turning. */
async function run(label, action, { ticking = true } = {}) {
    if (state.busy) return;
    setBusy(true);
    const started = Date.now();
    const tick = () => work(`${label}… ${Math.round((Date.now() - started) / 1000)} s`);
    tick();
    // An action that reports its own progress (sleep) keeps the message to itself.
    const timer = ticking ? setInterval(tick, 1000) : undefined;
    try {
        await action();
    } catch (error) {
        fail(error);
    } finally {
        clearInterval(timer);
        work('');
        setBusy(false);
    }
}

function fail(error) {
    if (error instanceof Unreachable) return banner(error.message, { retry: true });
    if (error instanceof ApiError && error.status === 401) {
        store.removeItem('sleepmem.key');
        showSignIn(`That API key was refused: ${error.message}`);
        return;
    }
    banner(error instanceof ApiError ? `sleepmem answered ${error.status}: ${error.message}` : String(error));
}

// ------------------------------------------------------------------ signing in
function showSignIn(message = '') {
    $('memory').hidden = true;
    $('who').hidden = true;
    $('sign-in').hidden = false;
    $('key-field').hidden = state.keyless;
    $('sign-in-key-help').hidden = state.keyless;
    $('user-field').hidden = !state.keyless;
    $('sign-in-user-help').hidden = !state.keyless;
    banner(message);
    (state.keyless ? $('user-name') : $('api-key')).focus();
}

/** Find out what this browser may see: a keyless server, an admin key (every user), a
 *  key of one user, or a trusted front-end key that must name its user. */
async function boot() {
    banner('');
    const key = store.getItem('sleepmem.key') || '';
    const api = new Api(key);
    try {
        await api.call('GET', 'v1/models');
    } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) throw error;
        state.keyless = false;
        store.removeItem('sleepmem.key');
        return showSignIn(key ? `That API key was refused: ${error.message}` : '');
    }
    state.keyless = !key;
    state.admin = false;
    state.fixedUser = false;
    let user = store.getItem('sleepmem.user') || '';
    if (state.keyless) return user ? open(user) : showSignIn();
    const users = await api.call('GET', 'v1/admin/users').then(
        (data) => data.users.map((u) => u.user),
        (error) => (error instanceof ApiError && error.status === 403 ? null : Promise.reject(error)),
    );
    if (users) {
        state.admin = true;
        $('user-list').replaceChildren(...users.map((u) => new Option(u, u)));
        user ||= users[0] || '';
    } else {
        // A key mapped to one user answers with that user, whatever the page asks for; a
        // trusted front-end key must name the user (missing_user), like a keyless server.
        const mine = await api.call('GET', 'v1/memory').catch((error) =>
            error instanceof ApiError && error.code === 'missing_user' ? null : Promise.reject(error),
        );
        state.fixedUser = Boolean(mine);
        if (mine) user = mine.user;
    }
    return open(user);
}

const start = () => boot().catch(fail);

async function open(user) {
    const key = store.getItem('sleepmem.key') || '';
    // Only the key's own memory for a one-user key: the user is never sent for it.
    state.api = new Api(key, state.fixedUser ? '' : user);
    if (!state.fixedUser) store.setItem('sleepmem.user', user);
    $('sign-in').hidden = true;
    $('who').hidden = false;
    $('pick-user').hidden = state.fixedUser;
    $('user-pick').value = user;
    const role = state.admin ? ' (admin key)' : state.keyless ? ' (server without keys)' : '';
    $('who-label').textContent = state.fixedUser ? `Signed in as ${user}` : `Memory of${role}`;
    if (!user) {
        $('memory').hidden = true;
        return banner('Choose a user.', { error: false });
    }
    return refresh();
}

// ------------------------------------------------------------------ showing
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '');

function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
}

/** Did the fact pass its last audit? The latest sleep that audited it says. */
function auditOf(fact, sleeps) {
    for (const s of [...sleeps].reverse()) {
        if (s.report.audited?.includes(fact.id)) {
            const ok = !s.report.failed?.includes(fact.id);
            return [ok ? `passed (${when(s.finished_at)})` : `failed (${when(s.finished_at)})`, ok ? 'pass' : 'fail'];
        }
    }
    return ['not audited yet', 'none'];
}

function factRow(fact, sleeps) {
    const tr = document.createElement('tr');
    tr.dataset.id = fact.id;
    const source = fact.source && fact.source !== 'explicit' ? `“${fact.source}”` : 'added by hand';
    const [audit, cls] = auditOf(fact, sleeps);
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.textContent = 'Forget';
    forget.className = 'forget';
    forget.addEventListener('click', () =>
        run(`Forgetting “${fact.text}” (the other facts are re-written)`, async () => {
            await state.api.call('DELETE', `v1/memory/facts/${encodeURIComponent(fact.id)}`, { timeout: LONG });
            await refresh();
            banner(`Forgot: ${fact.text}`, { error: false });
        }),
    );
    const action = document.createElement('td');
    action.append(forget);
    tr.append(cell(fact.text, 'text'), cell(source, 'source'), cell(when(fact.created_at)), cell(audit, `audit ${cls}`), action);
    return tr;
}

function sleepRow(sleep) {
    const r = sleep.report;
    const { drift, kept } = outcome(r);
    const tr = document.createElement('tr');
    tr.append(
        cell(when(sleep.finished_at)),
        cell(String(r.facts)),
        cell(`${Math.round(r.audit_before * 100)}% → ${Math.round(r.audit_after * 100)}%`),
        cell(drift == null ? 'not measured' : `${(drift * 100).toFixed(1)}%`),
        cell(kept ? 'new edits kept' : r.reason),
    );
    return tr;
}

async function refresh() {
    const [data, status] = await Promise.all([
        state.api.call('GET', 'v1/memory/export'),
        state.api.call('GET', 'v1/memory/status'),
    ]);
    banner('');
    $('memory').hidden = false;
    const facts = data.facts.filter((f) => f.status === 'active');
    const sleeps = data.sleeps.filter((s) => s.report?.facts > 0);
    $('facts').hidden = !facts.length;
    $('no-facts').hidden = Boolean(facts.length);
    $('facts').tBodies[0].replaceChildren(...facts.map((f) => factRow(f, sleeps)));
    $('sleeps').hidden = !sleeps.length;
    $('no-sleeps').hidden = Boolean(sleeps.length);
    $('sleeps').tBodies[0].replaceChildren(...sleeps.map(sleepRow).reverse());
    $('chart').replaceChildren(...(sleeps.length ? [sleepChart(sleeps)] : []));
    const last = status.last_sleep ? `last sleep ${when(status.last_sleep.finished_at)}` : 'never slept';
    const archived = status.archived ? ` (and ${status.archived} archived over the fact budget)` : '';
    $('status-line').textContent = `${data.user}: ${facts.length} facts${archived}, ${last}, model ${data.model}.`;
    const waiting = status.pending + status.inbox;
    if (waiting && !state.busy) {
        // Messages told in a chat are still being written: look again shortly.
        work(`Writing ${waiting} piece(s) of chat into memory…`);
        setTimeout(() => !state.busy && refresh().catch(fail), 3000);
    } else if (!state.busy) {
        work('');
    }
    return status;
}

// ------------------------------------------------------------------ actions
async function sleepNow() {
    const before = (await state.api.call('GET', 'v1/memory/status')).last_sleep?.id ?? 0;
    await state.api.call('POST', 'v1/memory/sleep', { body: {} }); // queued: answered at once
    const started = Date.now();
    for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const s = await state.api.call('GET', 'v1/memory/status');
        const seconds = Math.round((Date.now() - started) / 1000);
        if (s.sleeping) {
            const p = s.sleep_progress;
            const step = p.done.length < p.total ? ` (${p.done.length + 1} of ${p.total})` : '';
            work(`Sleeping${step}… ${seconds} s`, { done: p.done.length, total: p.total });
        } else if ((s.last_sleep?.id ?? 0) > before) {
            await refresh();
            const r = s.last_sleep.report;
            const pct = (x) => `${Math.round(x * 100)}%`;
            return banner(
                r.facts
                    ? `Slept on ${r.facts} facts in ${Math.round(r.seconds)} s: recall ${pct(r.audit_before)} → ${pct(r.audit_after)}, ${r.kept_new ? 'new edits kept' : r.reason}.`
                    : 'Slept: nothing to consolidate yet.',
                { error: false },
            );
        } else if (s.last_error && !s.pending) {
            throw new Error(`The sleep failed: ${s.last_error}`);
        } else {
            work(`Waiting for earlier memory work to finish… ${seconds} s`);
        }
    }
}

function wire() {
    $('sign-in-form').addEventListener('submit', (event) => {
        event.preventDefault();
        if (state.keyless) {
            const user = $('user-name').value.trim();
            if (user) open(user).catch(fail);
            return;
        }
        const key = $('api-key').value.trim();
        if (!key) return;
        store.setItem('sleepmem.key', key);
        store.removeItem('sleepmem.user');
        $('api-key').value = '';
        start();
    });
    $('user-pick').addEventListener('change', () => {
        const user = $('user-pick').value.trim();
        if (user) open(user).catch(fail);
    });
    $('sign-out').addEventListener('click', () => {
        store.clear();
        start();
    });
    $('refresh').addEventListener('click', () => run('Loading', refresh));
    $('retry').addEventListener('click', start);
    $('add-form').addEventListener('submit', (event) => {
        event.preventDefault();
        const text = $('add-text').value.trim();
        if (!text) return;
        run('Writing the fact into the model’s weights', async () => {
            const r = await state.api.call('POST', 'v1/memory/facts', { body: { text }, timeout: LONG });
            $('add-text').value = '';
            await refresh();
            const added = r.added.map((f) => f.text).join(' ');
            banner(added ? `Remembered: ${added}` : `Nothing new to remember (${r.skipped.join('; ')}).`, { error: !added });
        });
    });
    $('forget-all').addEventListener('click', () => {
        const who = $('user-pick').value || 'you';
        if (!window.confirm(`Forget everything sleepmem remembers about ${who}? This cannot be undone.`)) return;
        run('Forgetting everything', async () => {
            const r = await state.api.call('DELETE', 'v1/memory', { timeout: LONG });
            await refresh();
            banner(`Forgot ${r.forgotten} facts.`, { error: false });
        });
    });
    $('sleep').addEventListener('click', () => run('Asking the server to sleep', sleepNow, { ticking: false }));
}

document.title = `sleepmem memory (${SERVER.host})`;
wire();
start();
