// A small stand-in for the parts of SillyTavern's extension API that the sleepmem extension
// touches: SillyTavern.getContext() with the slash-command classes, extensionSettings,
// saveSettingsDebounced, sendSystemMessage, the event source, persona and characters, and
// the Chat Completion settings. Shapes follow SillyTavern's st-context.js.

export class StandIn {
    constructor(options = {}) {
        const { name1 = 'Ana', characters = [{ name: 'Seraphina' }], legacy = false } = options;
        this.name1 = name1;
        this.characters = characters;
        // undefined is meaningful: SillyTavern's characterId in group chats / no character.
        this.characterId = Object.hasOwn(options, 'characterId') ? options.characterId : 0;
        this.extensionSettings = {};
        this.saves = 0;
        this.chat = [];
        this.commands = new Map();
        this.listeners = new Map();
        this.chatCompletionSettings = {
            chat_completion_source: 'custom',
            custom_url: 'http://127.0.0.1:8430/v1',
            custom_include_body: '',
        };
        this.eventTypes = { APP_READY: 'app_ready', CHAT_CHANGED: 'chat_id_changed', SETTINGS_UPDATED: 'settings_updated' };
        const commands = this.commands;
        if (!legacy) {
            this.SlashCommand = {
                fromProps: (props) => ({ ...props, kind: 'SlashCommand' }),
            };
            this.SlashCommandArgument = { fromProps: (props) => ({ ...props, kind: 'SlashCommandArgument' }) };
            this.ARGUMENT_TYPE = { STRING: 'string', NUMBER: 'number' };
            this.SlashCommandParser = {
                addCommandObject(command) {
                    if (command.kind !== 'SlashCommand') throw new Error('not a SlashCommand');
                    commands.set(command.name, command);
                },
            };
        } else {
            this.registerSlashCommand = (name, callback, aliases, helpString) => {
                commands.set(name, { name, callback, aliases, helpString, kind: 'legacy' });
            };
        }
    }

    context() {
        return {
            name1: this.name1,
            characters: this.characters,
            characterId: this.characterId,
            extensionSettings: this.extensionSettings,
            saveSettingsDebounced: () => {
                this.saves += 1;
            },
            sendSystemMessage: (type, text) => this.chat.push({ is_system: true, type, mes: text }),
            eventSource: {
                on: (event, fn) => this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]),
            },
            eventTypes: this.eventTypes,
            chatCompletionSettings: this.chatCompletionSettings,
            SlashCommandParser: this.SlashCommandParser,
            SlashCommand: this.SlashCommand,
            SlashCommandArgument: this.SlashCommandArgument,
            ARGUMENT_TYPE: this.ARGUMENT_TYPE,
            registerSlashCommand: this.registerSlashCommand,
        };
    }

    install() {
        globalThis.SillyTavern = { getContext: () => this.context() };
        return this;
    }

    async emit(event) {
        for (const fn of this.listeners.get(event) ?? []) await fn();
    }

    /** What SillyTavern does with a typed '/name rest of line': the rest is the unnamed
     *  argument; the callback's result is the command's pipe value. */
    async run(line) {
        const match = /^\/(\S+)\s*([\s\S]*)$/.exec(line);
        const command = this.commands.get(match[1]);
        if (!command) throw new Error(`unknown command /${match[1]}`);
        return command.callback({}, match[2]);
    }

    lastMessage() {
        return this.chat.at(-1)?.mes;
    }
}
