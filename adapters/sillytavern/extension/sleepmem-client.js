// The extension's logic, free of the DOM and of SillyTavern's internals: it receives
// SillyTavern's context object (SillyTavern.getContext()) and a fetch function, so it runs
// unchanged in the browser and under Node's test runner.

export const MODULE_NAME = 'sleepmem';

export const DEFAULT_SETTINGS = Object.freeze({
    serverUrl: 'http://127.0.0.1:8430',
    apiKey: '',
    userId: '',
    perCharacter: false,
    syncChatIdentity: true,
});

/** The extension's settings inside SillyTavern's extensionSettings, with defaults filled in
 *  (settings saved by an older version gain the keys added since). */
export function getSettings(extensionSettings) {
    if (!extensionSettings[MODULE_NAME] || typeof extensionSettings[MODULE_NAME] !== 'object') {
        extensionSettings[MODULE_NAME] = structuredClone(DEFAULT_SETTINGS);
    }
    const settings = extensionSettings[MODULE_NAME];
    for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
        if (!Object.hasOwn(settings, key)) settings[key] = value;
    }
    return settings;
}

export class SleepmemError extends Error {}

/** Who the memory belongs to: the configured user id, else the SillyTavern persona name,
 *  prefixed with the account handle when SillyTavern's user accounts are on (``account``):
 *  persona names are free text ("User" is SillyTavern's default), and two accounts that
 *  pick the same one must not share a memory. With perCharacter, also the current
 *  character (none in group chats). */
export function identityFor(ctx, settings, account = null) {
    const persona = String(ctx.name1 || '').trim();
    const user = String(settings.userId || (account && persona ? `${account}:${persona}` : persona)).trim();
    if (!user) {
        throw new SleepmemError('No user: set a user id in the sleepmem extension settings.');
    }
    let character = null;
    if (settings.perCharacter && ctx.characterId !== undefined && ctx.characterId !== null) {
        character = ctx.characters?.[ctx.characterId]?.name?.trim() || null;
    }
    return { user, character };
}

export function baseUrl(serverUrl) {
    return String(serverUrl || DEFAULT_SETTINGS.serverUrl).trim().replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** The sleepmem REST memory API for one identity. The user and character travel as query
 *  parameters, not headers: browsers refuse header values outside Latin-1, and persona and
 *  character names often are not. */
export class SleepmemClient {
    constructor({ serverUrl, apiKey = '', fetch = globalThis.fetch }) {
        this.base = baseUrl(serverUrl);
        this.apiKey = apiKey;
        // Never this.fetch = fetch: called as a method, the browser's fetch throws
        // "Illegal invocation" (Node's does not, which is how the stand-in tests missed it).
        this.fetch = (...args) => fetch(...args);
    }

    async request(method, path, identity, body) {
        const url = new URL(this.base + path);
        url.searchParams.set('user', identity.user);
        if (identity.character) url.searchParams.set('character', identity.character);
        const headers = {};
        if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        let response;
        try {
            response = await this.fetch(url, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
            });
        } catch (error) {
            throw new SleepmemError(
                `The sleepmem server at ${this.base} is not reachable (${error.cause?.code || error.message}). ` +
                'Start it with `sleepmem serve` and check the server URL in the sleepmem extension settings ' +
                '(and server.cors_origins in sleepmem\'s config).',
            );
        }
        const text = await response.text();
        let data = null;
        try {
            data = text ? JSON.parse(text) : null;
        } catch {
            data = null;
        }
        if (!response.ok) {
            const message = data?.error?.message || text.slice(0, 300) || response.statusText;
            throw new SleepmemError(`sleepmem answered ${response.status}: ${message}`);
        }
        return data;
    }

    memories(identity) {
        return this.request('GET', '/v1/memory', identity);
    }

    remember(identity, text) {
        return this.request('POST', '/v1/memory/facts', identity, { text });
    }

    /** By id or by words (the server's /forget matches either, and 'all'). */
    forget(identity, query) {
        return this.request('POST', '/v1/memory/command', identity, { text: `/forget ${query}` });
    }

    sleep(identity) {
        return this.request('POST', '/v1/memory/sleep', identity, { wait: true });
    }

    status(identity) {
        return this.request('GET', '/v1/memory/status', identity);
    }
}

function whose(identity) {
    return identity.character ? `${identity.user} with ${identity.character}` : identity.user;
}

export function formatMemories(identity, data) {
    const facts = data?.facts ?? [];
    if (!facts.length) return `sleepmem remembers nothing about ${whose(identity)} yet.`;
    const lines = facts.map((f) => `- ${f.text} (id ${f.id})`);
    return `sleepmem remembers about ${whose(identity)}:\n${lines.join('\n')}`;
}

export function formatRemember(data) {
    const added = (data?.added ?? []).map((f) => f.text);
    const replaced = (data?.superseded ?? []).map((f) => f.text);
    if (!added.length) {
        const why = (data?.skipped ?? []).join('; ');
        return `Nothing new to remember${why ? ` (${why})` : ''}.`;
    }
    let text = `Remembered: ${added.join('; ')}`;
    if (replaced.length) text += `\nReplaces: ${replaced.join('; ')}`;
    return text;
}

export function formatSleep(report) {
    const pct = (x) => `${Math.round((x ?? 0) * 100)}%`;
    if (!report?.facts) return 'Slept: there was nothing to consolidate yet.';
    const kept = report.kept_new ? 'kept the new consolidation' : 'kept the previous memory';
    return (
        `Slept (${report.facts} facts, ${(report.seconds ?? 0).toFixed(1)} s): recall ` +
        `${pct(report.audit_before)} -> ${pct(report.audit_after)}, ${kept}.`
    );
}

/** The four commands as plain async functions of the argument text; each returns the text
 *  to show. ``account()`` is the signed-in SillyTavern account's handle, or null. Errors come back as a message too, never as an exception into SillyTavern. */
export function createCommands(getContext, { fetch = globalThis.fetch, account = () => null } = {}) {
    async function withClient(run) {
        const ctx = getContext();
        const settings = getSettings(ctx.extensionSettings);
        try {
            const identity = identityFor(ctx, settings, account());
            const client = new SleepmemClient({ serverUrl: settings.serverUrl, apiKey: settings.apiKey, fetch });
            return await run(client, identity);
        } catch (error) {
            if (error instanceof SleepmemError) return `⚠️ ${error.message}`;
            throw error;
        }
    }

    const needs = (what, usage) => `⚠️ ${what}. Usage: ${usage}`;

    return {
        sleep: {
            help: 'Consolidate your sleepmem memory now (re-checks every fact; can take a minute).',
            run: () => withClient(async (c, id) => formatSleep(await c.sleep(id))),
        },
        memories: {
            help: 'List what sleepmem remembers about you, with ids.',
            run: () => withClient(async (c, id) => formatMemories(id, await c.memories(id))),
        },
        forget: {
            help: 'Forget facts by id or by words: /forget Porto, /forget all.',
            args: 'id, words, or all',
            run: (text) => {
                if (!String(text ?? '').trim()) return needs('Say what to forget', '/forget <id | words | all>');
                return withClient(async (c, id) => (await c.forget(id, String(text).trim())).reply);
            },
        },
        remember: {
            help: 'Write a fact about you into sleepmem\'s memory: /remember I live in Porto.',
            args: 'a fact about you',
            run: (text) => {
                if (!String(text ?? '').trim()) return needs('Say what to remember', '/remember <fact>');
                return withClient(async (c, id) => formatRemember(await c.remember(id, String(text).trim())));
            },
        },
    };
}

/** Register the commands with SillyTavern: SlashCommandParser.addCommandObject when the
 *  context has it (current SillyTavern), else the older registerSlashCommand. Each result
 *  is shown in the chat as a system message (not sent to the model) and also returned,
 *  so the commands can be piped in STscript. */
export function registerCommands(ctx, commands, getContext = () => ctx) {
    const show = (text) => {
        const current = getContext();
        if (typeof current.sendSystemMessage === 'function') current.sendSystemMessage('generic', text);
        return text;
    };
    const names = [];
    for (const [name, command] of Object.entries(commands)) {
        const callback = async (_namedArgs, unnamed) => show(await command.run(String(unnamed ?? '')));
        if (ctx.SlashCommandParser?.addCommandObject && ctx.SlashCommand?.fromProps) {
            const props = { name, callback, helpString: command.help, returns: 'the answer as text' };
            if (command.args && ctx.SlashCommandArgument?.fromProps) {
                props.unnamedArgumentList = [
                    ctx.SlashCommandArgument.fromProps({
                        description: command.args,
                        typeList: [ctx.ARGUMENT_TYPE?.STRING ?? 'string'],
                        isRequired: true,
                    }),
                ];
            }
            ctx.SlashCommandParser.addCommandObject(ctx.SlashCommand.fromProps(props));
        } else if (typeof ctx.registerSlashCommand === 'function') {
            ctx.registerSlashCommand(name, callback, [], command.help, true, true);
        } else {
            throw new SleepmemError('This SillyTavern has no slash command API the extension knows.');
        }
        names.push(name);
    }
    return names;
}

/** Keep the `user:` line of the Custom (OpenAI-compatible) source's "Include Body
 *  Parameters" equal to the extension's user, so chats and commands use one memory. Only
 *  when that source points at this sleepmem server; other lines are left as they are.
 *  Returns true when the setting changed. */
export function syncChatIdentity(chatSettings, settings, identity) {
    if (!settings.syncChatIdentity || !chatSettings) return false;
    if (chatSettings.chat_completion_source !== 'custom') return false;
    if (baseUrl(chatSettings.custom_url) !== baseUrl(settings.serverUrl)) return false;
    const line = `user: ${JSON.stringify(identity.user)}`;
    const lines = String(chatSettings.custom_include_body || '')
        .split('\n')
        .filter((l) => l.trim() && !/^user\s*:/.test(l));
    const updated = [...lines, line].join('\n');
    if (updated === chatSettings.custom_include_body) return false;
    chatSettings.custom_include_body = updated;
    return true;
}
