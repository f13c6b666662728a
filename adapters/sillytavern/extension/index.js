// sleepmem for SillyTavern: /sleep, /memories, /forget, /remember against `sleepmem serve`,
// and a settings panel. Uses only SillyTavern's documented, stable context API
// (SillyTavern.getContext()); the logic lives in sleepmem-client.js.

import {
    MODULE_NAME,
    createCommands,
    getSettings,
    identityFor,
    registerCommands,
    SleepmemClient,
    SleepmemError,
    syncChatIdentity,
} from './sleepmem-client.js';

// The global is SillyTavern's stable API; older releases only export getContext from
// scripts/extensions.js (three folders up from any installed extension).
const getContext = globalThis.SillyTavern?.getContext ?? (await import('../../../extensions.js')).getContext;

// Two things SillyTavern 1.12's context does not expose live in its own modules (three
// folders up, as above): the Chat Completion settings (scripts/openai.js; newer releases
// have ctx.chatCompletionSettings) and the signed-in account (scripts/user.js). Outside
// SillyTavern, e.g. under Node's tests, the imports fail and are left out.
const optional = (path) => import(path).catch(() => null);
const openai = getContext().chatCompletionSettings ? null : await optional('../../../openai.js');
const accounts = await optional('../../../user.js');
const chatSettings = (ctx) => ctx.chatCompletionSettings ?? openai?.oai_settings;
const account = () => (accounts?.accountsEnabled ? accounts.currentUser?.handle ?? null : null);

function syncIdentity() {
    const ctx = getContext();
    const settings = getSettings(ctx.extensionSettings);
    let identity;
    try {
        identity = identityFor(ctx, settings, account());
    } catch {
        return; // no persona yet; the next CHAT_CHANGED tries again
    }
    const chat = chatSettings(ctx);
    if (syncChatIdentity(chat, settings, identity)) {
        // Keep SillyTavern's own field in step, or its next edit would overwrite ours.
        globalThis.jQuery?.('#custom_include_body').val(chat.custom_include_body);
        ctx.saveSettingsDebounced();
    }
}

async function mountSettings() {
    const $ = globalThis.jQuery;
    if (!$ || typeof document === 'undefined') return; // not in a browser page
    const ctx = getContext();
    const settings = getSettings(ctx.extensionSettings);
    const html = await (await fetch(new URL('./settings.html', import.meta.url))).text();
    $('#extensions_settings2').append(html);
    const fields = {
        '#sleepmem_server_url': 'serverUrl',
        '#sleepmem_api_key': 'apiKey',
        '#sleepmem_user_id': 'userId',
    };
    for (const [selector, key] of Object.entries(fields)) {
        $(selector).val(settings[key]).on('input', function () {
            settings[key] = String($(this).val()).trim();
            ctx.saveSettingsDebounced();
            syncIdentity();
        });
    }
    for (const [selector, key] of Object.entries({
        '#sleepmem_per_character': 'perCharacter',
        '#sleepmem_sync_identity': 'syncChatIdentity',
    })) {
        $(selector).prop('checked', settings[key]).on('change', function () {
            settings[key] = Boolean($(this).prop('checked'));
            ctx.saveSettingsDebounced();
            syncIdentity();
        });
    }
    $('#sleepmem_test').on('click', async () => {
        const status = $('#sleepmem_status');
        try {
            const current = getContext();
            const identity = identityFor(current, settings, account());
            const client = new SleepmemClient({ serverUrl: settings.serverUrl, apiKey: settings.apiKey });
            const s = await client.status(identity);
            status.text(`Connected: memory "${s.user}" has ${s.facts} facts.`);
        } catch (error) {
            status.text(error instanceof SleepmemError ? error.message : String(error));
        }
    });
}

const ctx = getContext();
getSettings(ctx.extensionSettings);
export const registered = registerCommands(ctx, createCommands(getContext, { account }), getContext);
const { eventSource } = ctx;
const events = ctx.eventTypes ?? ctx.event_types;
if (eventSource && events) {
    eventSource.on(events.APP_READY, syncIdentity);
    eventSource.on(events.CHAT_CHANGED, syncIdentity);
    eventSource.on(events.SETTINGS_UPDATED, syncIdentity);
}
if (globalThis.jQuery) globalThis.jQuery(() => mountSettings().catch((e) => console.error(`[${MODULE_NAME}]`, e)));
