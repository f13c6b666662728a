// The SillyTavern extension under Node's test runner: index.js loaded into a stand-in for
// SillyTavern's extension API, its slash commands run against the real sleepmem server
// (SLEEPMEM_URL, started by tests/test_sillytavern.py), and a chat sent the way
// SillyTavern's Custom (OpenAI-compatible) source sends it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import {
    createCommands,
    getSettings,
    identityFor,
    registerCommands,
    syncChatIdentity,
} from '../../adapters/sillytavern/extension/sleepmem-client.js';
import { StandIn } from './st-standin.js';

const SERVER = process.env.SLEEPMEM_URL;
const needsServer = { skip: SERVER ? false : 'SLEEPMEM_URL is not set (tests/test_sillytavern.py sets it)', timeout: 600_000 };
const INDEX = new URL('../../adapters/sillytavern/extension/index.js', import.meta.url);
let loads = 0;

/** Load index.js afresh (a new module instance) into a new stand-in. */
async function loadExtension(options = {}) {
    const st = new StandIn(options).install();
    if (SERVER) {
        st.chatCompletionSettings.custom_url = `${SERVER}/v1`;
        getSettings(st.extensionSettings).serverUrl = SERVER;
    }
    loads += 1;
    const module = await import(`${INDEX.href}?instance=${loads}`);
    return { st, module };
}

async function json(method, path, body) {
    const response = await fetch(SERVER + path, {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, data: await response.json() };
}

/** The request SillyTavern's server makes for a Custom source chat: its own fields merged
 *  with the "Include Body Parameters" (YAML, here one `key: "json"` per line). */
async function sillyTavernChat(st, text) {
    const body = { model: 'sleepmem', messages: [{ role: 'user', content: text }], max_tokens: 24, stream: false };
    for (const line of st.chatCompletionSettings.custom_include_body.split('\n').filter(Boolean)) {
        const [key, ...rest] = line.split(':');
        body[key.trim()] = JSON.parse(rest.join(':').trim());
    }
    const { status, data } = await json('POST', '/v1/chat/completions', body);
    assert.equal(status, 200, JSON.stringify(data));
    return data.choices[0].message.content;
}

async function settled(user) {
    // Wake runs after the reply is sent; wait until this user's queue is empty.
    for (let i = 0; i < 600; i += 1) {
        const { data } = await json('GET', `/v1/memory/status?user=${encodeURIComponent(user)}`);
        if (!data.pending) return data;
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`wake for ${user} did not finish`);
}

function closedPortUrl() {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(`http://127.0.0.1:${port}`));
        });
    });
}

test('index.js registers the four commands through SlashCommandParser', async () => {
    const { st, module } = await loadExtension();
    assert.deepEqual(module.registered, ['sleep', 'memories', 'forget', 'remember']);
    assert.deepEqual([...st.commands.keys()], ['sleep', 'memories', 'forget', 'remember']);
    const forget = st.commands.get('forget');
    assert.equal(forget.unnamedArgumentList[0].isRequired, true);
    assert.match(forget.helpString, /forget/i);
    assert.deepEqual(Object.keys(st.extensionSettings.sleepmem).sort(),
        ['apiKey', 'perCharacter', 'serverUrl', 'syncChatIdentity', 'userId']);
    assert.ok(st.listeners.has('chat_id_changed'), 'listens for chat changes');
});

test('older SillyTavern: falls back to registerSlashCommand', async () => {
    const { st } = await loadExtension({ legacy: true });
    assert.deepEqual([...st.commands.values()].map((c) => c.kind), ['legacy', 'legacy', 'legacy', 'legacy']);
});

test('identity: persona name, configured id, character only when asked', () => {
    const ctx = new StandIn({ name1: 'Ana', characterId: 0 }).context();
    const settings = getSettings(ctx.extensionSettings);
    assert.deepEqual(identityFor(ctx, settings), { user: 'Ana', character: null });
    settings.perCharacter = true;
    assert.deepEqual(identityFor(ctx, settings), { user: 'Ana', character: 'Seraphina' });
    settings.userId = 'ana-42';
    assert.equal(identityFor(ctx, settings).user, 'ana-42');
    const group = new StandIn({ characterId: undefined }).context();
    assert.equal(identityFor(group, { ...settings, userId: '' }).character, null);
    assert.throws(() => identityFor(new StandIn({ name1: '' }).context(), getSettings({})), /No user/);
});

test('identity: SillyTavern accounts keep their "User" personas apart, a set id wins', () => {
    const ctx = new StandIn({ name1: 'User' }).context();
    const settings = getSettings(ctx.extensionSettings);
    assert.equal(identityFor(ctx, settings, 'default-user').user, 'default-user:User');
    assert.equal(identityFor(ctx, settings, 'bea').user, 'bea:User');
    assert.equal(identityFor(ctx, settings, null).user, 'User'); // accounts off: as before
    settings.userId = 'bea-fixed';
    assert.equal(identityFor(ctx, settings, 'bea').user, 'bea-fixed');
    assert.throws(() => identityFor(new StandIn({ name1: '' }).context(), getSettings({}), 'bea'), /No user/);
});

test('chat identity sync edits only the user line, only for this server', () => {
    const settings = getSettings({});
    const chat = { chat_completion_source: 'custom', custom_url: 'http://127.0.0.1:8430/v1/', custom_include_body: 'top_k: 1' };
    assert.equal(syncChatIdentity(chat, settings, { user: 'Ana "A"' }), true);
    assert.equal(chat.custom_include_body, 'top_k: 1\nuser: "Ana \\"A\\""');
    assert.equal(syncChatIdentity(chat, settings, { user: 'Ana "A"' }), false, 'idempotent');
    assert.equal(syncChatIdentity(chat, settings, { user: 'Bo' }), true);
    assert.equal(chat.custom_include_body, 'top_k: 1\nuser: "Bo"');
    const other = { chat_completion_source: 'custom', custom_url: 'https://api.example.com/v1', custom_include_body: '' };
    assert.equal(syncChatIdentity(other, settings, { user: 'Bo' }), false);
    assert.equal(syncChatIdentity({ ...chat, chat_completion_source: 'openai' }, settings, { user: 'Cy' }), false);
    assert.equal(syncChatIdentity(chat, { ...settings, syncChatIdentity: false }, { user: 'Cy' }), false);
});

test('bad input: commands without an argument answer with usage and send nothing', async () => {
    let requests = 0;
    const st = new StandIn();
    const counting = async (...args) => {
        requests += 1;
        return fetch(...args);
    };
    const commands = createCommands(() => st.context(), { fetch: counting });
    registerCommands(st.context(), commands, () => st.context());
    assert.match(await st.run('/forget'), /Say what to forget\. Usage: \/forget/);
    assert.match(await st.run('/remember    '), /Say what to remember\. Usage: \/remember/);
    assert.equal(requests, 0);
    assert.match(st.lastMessage(), /Usage: \/remember/);
});

test('server down: a clear message in the chat, no exception', async () => {
    const st = new StandIn();
    getSettings(st.extensionSettings).serverUrl = await closedPortUrl();
    registerCommands(st.context(), createCommands(() => st.context()), () => st.context());
    for (const line of ['/memories', '/sleep', '/remember I live in Porto.', '/forget Porto']) {
        const text = await st.run(line);
        assert.match(text, /is not reachable.*sleepmem serve/s, line);
        assert.equal(st.lastMessage(), text);
        assert.equal(st.chat.at(-1).is_system, true);
    }
});

test('commands work against the real server, per persona', needsServer, async () => {
    const { st } = await loadExtension({ name1: 'st-ana' });
    assert.match(await st.run('/memories'), /remembers nothing about st-ana/);
    const remembered = await st.run('/remember I live in Porto.');
    assert.match(remembered, /^Remembered: .*Porto/);
    assert.equal(st.lastMessage(), remembered);
    const listed = await st.run('/memories');
    assert.match(listed, /sleepmem remembers about st-ana:\n- .*Porto.* \(id \w+\)/);

    // Another persona in the same SillyTavern has its own, empty memory.
    st.name1 = 'st-bo';
    assert.match(await st.run('/memories'), /remembers nothing about st-bo/);
    assert.match(await st.run('/forget Porto'), /./);
    st.name1 = 'st-ana';
    assert.match(await st.run('/memories'), /Porto/, "st-bo's /forget left st-ana alone");

    assert.match(await st.run('/sleep'), /^Slept \(1 facts, [\d.]+ s\): recall \d+% -> \d+%/);
    assert.match(await st.run('/forget Porto'), /Porto/);
    assert.match(await st.run('/memories'), /remembers nothing about st-ana/);
});

test('per-character memory and non-Latin names travel safely', needsServer, async () => {
    const { st } = await loadExtension({ name1: 'ユーザー', characters: [{ name: 'Séraphine' }] });
    const settings = st.extensionSettings.sleepmem;
    settings.perCharacter = true;
    assert.match(await st.run('/remember My favourite colour is orange.'), /Remembered: .*orange/);
    assert.match(await st.run('/memories'), /about ユーザー with Séraphine:\n- .*orange/);
    settings.perCharacter = false;
    assert.match(await st.run('/memories'), /remembers nothing about ユーザー yet/);
    const { data } = await json('GET', `/v1/memory?user=${encodeURIComponent('ユーザー')}&character=${encodeURIComponent('Séraphine')}`);
    assert.deepEqual(data.facts.map((f) => f.answer), ['orange']);
});

test('a chat through the Custom source is remembered for that persona only', needsServer, async () => {
    const { st } = await loadExtension({ name1: 'st-chat-ana' });
    await st.emit('chat_id_changed');
    assert.match(st.chatCompletionSettings.custom_include_body, /^user: "st-chat-ana"$/m);
    assert.ok(st.saves > 0, 'settings saved');

    assert.ok(await sillyTavernChat(st, 'I live in Porto.'));
    const status = await settled('st-chat-ana');
    assert.equal(status.facts, 1);
    assert.match(await sillyTavernChat(st, 'Where do I live?'), /porto/i, 'fresh chat recalls');
    assert.match(await st.run('/memories'), /Porto/, 'commands see what the chat wrote');

    st.name1 = 'st-chat-bo';
    await st.emit('chat_id_changed');
    assert.doesNotMatch(await sillyTavernChat(st, 'Where do I live?'), /porto/i);
    assert.match(await st.run('/memories'), /remembers nothing about st-chat-bo/);
});

test('the browser may call the server from SillyTavern\'s origin (CORS)', needsServer, async () => {
    const response = await fetch(`${SERVER}/v1/memory?user=x`, {
        method: 'OPTIONS',
        headers: {
            Origin: 'http://localhost:8000',
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'authorization, content-type',
        },
    });
    assert.ok(response.status < 300, String(response.status));
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:8000');
    assert.match(response.headers.get('access-control-allow-headers'), /Authorization/);
});
